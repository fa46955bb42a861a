"""Many clients at once against one registry, through the client library: pushes of small datasets, pulls and
metadata reads for a bounded time; then a check that every version the registry acknowledged is there and
pulls back byte for byte.

Used small by ``test_load.py`` (no timing asserted) and at size by ``bench/load.py``.
"""

from __future__ import annotations

import logging
import os
import random
import re
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mllab.client import Client

OPS = ("push", "pull", "get", "list")
WEIGHTS = (2, 2, 3, 3)
#: Lines of the hub's log (the registry's included) that a failed request leaves.
SERVER_ERROR = re.compile(r"^(5\d\d (GET|POST|PUT|PATCH|DELETE) |Traceback|.*Uncaught exception)")


@dataclass
class Acked:
    """A version the registry acknowledged (its push returned), and the files it was pushed with."""

    ref: str
    token: str
    files: dict[str, bytes]


@dataclass
class LoadReport:
    seconds: float
    clients: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPS})
    errors: list[str] = field(default_factory=list)
    acked: list[Acked] = field(default_factory=list)

    @property
    def operations(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def lines(self) -> list[str]:
        """p50/p99 of each operation, throughput and errors, for people."""
        found = []
        for op, values in self.latencies.items():
            if len(values) >= 2:
                p99 = statistics.quantiles(values, n=100)[98]
                found.append(f"{op:5s} {len(values):6d} done, p50 {statistics.median(values) * 1000:7.1f} ms, "
                             f"p99 {p99 * 1000:7.1f} ms")
        found.append(f"{self.operations} operations by {self.clients} clients in {self.seconds:.1f} s: "
                     f"{self.operations / self.seconds:.1f} per second; {len(self.acked)} versions acknowledged")
        kinds = Counter(e.split(":", 2)[1].strip() if e.count(":") >= 2 else e for e in self.errors)
        found.append(f"errors: {len(self.errors)}" + (f" ({dict(kinds)}; first: {self.errors[0]})" if kinds else ""))
        return found


class _Retries(logging.Handler):
    """The client retries transient failures (5xx, broken connections) by itself; each retry is an error here."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.errors = errors

    def emit(self, record: logging.LogRecord) -> None:
        self.errors.append(f"retry: {record.getMessage()}")


def _files(rng: random.Random, n: int) -> dict[str, bytes]:
    # Unique content each time: an unchanged push would make no version.
    return {"data.csv": f"push {n}\n".encode() + rng.randbytes(rng.randrange(100, 8192)),
            "parts/extra.bin": rng.randbytes(rng.randrange(0, 4096))}


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    return folder


def _same(folder: Path, files: dict[str, bytes]) -> bool:
    held = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    return held == files


class Load:
    """``clients`` threads, each a `Client` of one of ``tokens`` (user -> token), until ``seconds`` have passed."""

    def __init__(self, hub_url: str, tokens: dict[str, str], workdir: Path, datasets_per_user: int = 3) -> None:
        self.hub_url = hub_url
        self.tokens = tokens
        self.workdir = workdir
        self.datasets_per_user = datasets_per_user
        self._lock = threading.Lock()

    def client(self, user: str, n: int) -> Client:
        return Client(self.hub_url, self.tokens[user], workers=2,
                      env={"MLLAB_CACHE_DIR": str(self.workdir / f"cache-{n}")})

    def run(self, clients: int, seconds: float, seed: int = 0) -> LoadReport:
        report = LoadReport(seconds, clients)
        retries = _Retries(report.errors)
        logging.getLogger("mllab.client").addHandler(retries)
        deadline = time.monotonic() + seconds
        start = time.monotonic()
        try:
            with ThreadPoolExecutor(clients, thread_name_prefix="load") as pool:
                for future in [pool.submit(self._one, n, deadline, random.Random(seed * 1000 + n), report)
                               for n in range(clients)]:
                    future.result()
        finally:
            logging.getLogger("mllab.client").removeHandler(retries)
        report.seconds = time.monotonic() - start
        return report

    def _one(self, n: int, deadline: float, rng: random.Random, report: LoadReport) -> None:
        users = sorted(self.tokens)
        user = users[n % len(users)]
        mine = self.workdir / f"client-{n}"
        with self.client(user, n) as client:
            count = 0
            while time.monotonic() < deadline:
                count += 1
                op = rng.choices(OPS, WEIGHTS)[0]
                with self._lock:
                    own = [a for a in report.acked if a.token == self.tokens[user]]
                started = time.perf_counter()
                try:
                    if op == "push" or not own:
                        op = "push"
                        files = _files(rng, count)
                        name = f"load-{rng.randrange(self.datasets_per_user)}"
                        pushed = client.datasets.push(_write(mine / f"push-{count}", files), name, progress=False)
                        with self._lock:
                            report.acked.append(Acked(pushed.ref, self.tokens[user], files))
                    elif op == "pull":
                        acked = rng.choice(own)
                        dest = mine / f"pull-{count}"
                        client.datasets.pull(acked.ref, dest, progress=False)
                        if not _same(dest, acked.files):
                            raise AssertionError(f"{acked.ref} pulled back other bytes than were pushed")
                    elif op == "get":
                        acked = rng.choice(own)
                        version = client.datasets.get(acked.ref)
                        if {f["path"]: f["size"] for f in version["files"]} != {p: len(d) for p, d in
                                                                              acked.files.items()}:
                            raise AssertionError(f"{acked.ref} lists other files than were pushed")
                    else:
                        client.datasets.list(namespace=f"users/{user}")
                        client.datasets.versions(rng.choice(own).ref.split(":")[0])
                except Exception as e:  # every failure is a finding: counted, and the client goes on
                    with self._lock:
                        report.errors.append(f"{op}: {type(e).__name__}: {e}")
                    continue
                elapsed = time.perf_counter() - started
                with self._lock:
                    report.latencies[op].append(elapsed)

    def lost(self, acked: list[Acked], workers: int = 8) -> list[str]:
        """What is wrong with the acknowledged versions now: refs given twice, versions missing or different."""
        problems = [f"{ref} acknowledged {count} times" for ref, count in Counter(a.ref for a in acked).items()
                    if count > 1]
        by_token = {token: user for user, token in self.tokens.items()}
        clients = {token: self.client(by_token[token], -1 - i) for i, token in enumerate(by_token)}

        def check(i: int, acked: Acked) -> str | None:
            dest = self.workdir / "check" / str(i)
            try:
                clients[acked.token].datasets.pull(acked.ref, dest, progress=False)
            except Exception as e:
                return f"{acked.ref}: {type(e).__name__}: {e}"
            return None if _same(dest, acked.files) else f"{acked.ref}: other bytes than were pushed"

        try:
            with ThreadPoolExecutor(workers) as pool:
                problems += [p for p in pool.map(check, range(len(acked)), acked) if p]
        finally:
            for client in clients.values():
                client.close()
        return problems


def server_errors(log: Path, since: int) -> list[str]:
    """Lines of a failed request in the hub's log after byte ``since``; a traceback as the exception it ends in."""
    with open(log, "rb") as f:
        f.seek(since)
        lines = f.read().decode(errors="replace").splitlines()
    found = []
    for n, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = next((x for x in lines[n + 1:] if x and not x[0].isspace()), "?")
            found.append(f"Traceback ... {end}")
        elif SERVER_ERROR.match(line):
            found.append(line)
    return found


def log_size(log: Path) -> int:
    return os.path.getsize(log)
