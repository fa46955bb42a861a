"""Transfer building blocks that need no server: request bodies, the worker pool, local file checks."""

from __future__ import annotations

import hashlib
import threading

import pytest
from mllab.client.errors import ManifestError
from mllab.client.progress import Meter
from mllab.client.transfer import FileSlice, Interrupted, Pool, file_matches


@pytest.fixture
def meter():
    with Meter("test", 0, show=False) as m:
        yield m


@pytest.mark.parametrize(
    ("offset", "length"),
    [
        pytest.param(0, 3 * 1024 * 1024 + 5, id="whole-file"),
        pytest.param(1024 * 1024 - 1, 2, id="across-a-chunk-boundary"),
        pytest.param(3 * 1024 * 1024, 5, id="tail"),
        pytest.param(7, 0, id="empty"),
    ],
)
def test_file_slice_yields_exactly_its_range_and_can_be_sent_again(tmp_path, meter, offset, length):
    data = bytes(range(256)) * (3 * 4096) + b"12345"
    path = tmp_path / "f"
    path.write_bytes(data)
    body = FileSlice(path, offset, length, meter, threading.Event())
    assert len(body) == length
    assert b"".join(body) == data[offset : offset + length]
    assert b"".join(body) == data[offset : offset + length], "a retry sends the same bytes"
    assert meter.count == 2 * length


def test_file_slice_notices_a_file_that_shrank(tmp_path, meter):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    with pytest.raises(ManifestError, match="became shorter"):
        b"".join(FileSlice(path, 0, 10, meter, threading.Event()))


def test_file_slice_stops_when_told(tmp_path, meter):
    path = tmp_path / "f"
    path.write_bytes(b"x" * (3 * 1024 * 1024))
    stop = threading.Event()
    chunks = iter(FileSlice(path, 0, 3 * 1024 * 1024, meter, stop))
    next(chunks)
    stop.set()
    with pytest.raises(Interrupted):
        next(chunks)


class Boom(Exception):
    pass


def test_pool_raises_the_first_failure_and_starts_nothing_after_it():
    started = []

    def task(n):
        def run():
            started.append(n)
            if n == 2:
                raise Boom("task 2 failed")
        return run

    with pytest.raises(Boom, match="task 2"):
        Pool(workers=1).run([task(n) for n in range(1, 6)])
    assert started == [1, 2]


def test_pool_reports_the_cause_not_the_tasks_it_interrupted():
    release = threading.Event()
    pool = Pool(workers=3)

    def waits():
        release.wait(5)
        if pool.stop.is_set():
            raise Interrupted("stopped")

    def fails():
        try:
            raise Boom("the cause")
        finally:
            release.set()

    with pytest.raises(Boom, match="the cause"):
        pool.run([waits, waits, fails])


def test_file_matches(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    sha = hashlib.sha256(b"hello").hexdigest()
    assert file_matches(path, 5, sha)
    assert not file_matches(path, 6, sha)
    assert not file_matches(path, 5, hashlib.sha256(b"jello").hexdigest())
    assert not file_matches(tmp_path / "missing", 5, sha)
    assert not file_matches(tmp_path, 0, sha)
