"""A push's and a pull's progress as a ``Listener`` hears it (``mllab.client.progress``), on each storage backend.

The S3 hub (moto) sends a large file in multipart parts: its file counts once, when its last part is sent.
"""

from __future__ import annotations

import os
import threading

from mllab.client.progress import Listener

MiB = 2**20


class Recorder(Listener):
    def __init__(self) -> None:
        self.plans: list[tuple[int, int, int]] = []
        self.bytes = 0
        self.files = 0
        self._lock = threading.Lock()

    def planned(self, bytes_total: int, files_total: int, files_done: int) -> None:
        self.plans.append((bytes_total, files_total, files_done))

    def moved(self, n: int) -> None:
        with self._lock:
            self.bytes += n

    def files_moved(self, n: int) -> None:
        with self._lock:
            self.files += n


def test_push_and_pull_report_what_moves(alice, tmp_path):
    client = alice.client()
    data = tmp_path / "data"
    (data / "parts").mkdir(parents=True)
    big = os.urandom(9 * MiB + 5)  # two S3 parts
    (data / "parts" / "big.bin").write_bytes(big)
    (data / "a.csv").write_bytes(b"x,y\n" * 1000)
    (data / "copy.csv").write_bytes(b"x,y\n" * 1000)  # the same content: sent once, two files done
    (data / "empty.txt").write_bytes(b"")  # nothing to send
    sizes = len(big) + 4000

    first = Recorder()
    client.datasets.push(data, "progress", listener=first)
    assert first.plans == [(sizes, 4, 1)]
    assert (first.bytes, first.files) == (sizes, 3)

    (data / "a.csv").write_bytes(b"changed\n")
    second = Recorder()
    client.datasets.push(data, "progress", listener=second)
    assert second.plans == [(8, 4, 3)]
    assert (second.bytes, second.files) == (8, 1)

    pulled = Recorder()
    client.datasets.pull("progress:2", tmp_path / "out", listener=pulled)
    everything = len(big) + 4000 + 8
    assert pulled.plans == [(everything, 4, 0)]
    assert (pulled.bytes, pulled.files) == (everything, 4)
    again = Recorder()
    client.datasets.pull("progress:2", tmp_path / "out", listener=again)
    assert again.plans == [(0, 4, 4)]
    assert (again.bytes, again.files) == (0, 0)
