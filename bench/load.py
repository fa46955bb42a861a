"""Load on the registry: many clients at once push small datasets, pull them and read metadata for a bounded
time, on the embedded default (SQLite, local storage) and on PostgreSQL with S3 (moto in a process of its own).

The reference, measured in the same run in rounds that alternate which goes first (`bench.pairs.in_turn`): the
same clients, operations and files against a plain S3 server (moto, in a process of its own), with boto3 and no
registry in between: a version is a key prefix, a pull lists it and gets each object, a get lists it, a list
lists the user's prefixes. For postgresql-s3 that server is the registry's own storage, so the ratio is what the
registry (auth, metadata, integrity, versions) adds over the object store that keeps its bytes. A first round of
each side, of at most 5 s, warms both up and is not counted.

Prints per operation p50/p99 and the throughput, each beside the reference's and as a ratio, the errors
(absolute target 0: a request that failed, a retry the client had to make, a 5xx or traceback in the hub's
log), then pulls back every version the registry acknowledged and says what is missing or different
(absolute target: nothing).

    python bench/load.py                       # 50 clients, 30 s each side and setup
    python bench/load.py --clients 20 --seconds 10 --only embedded
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests
from botocore.config import Config as BotoConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pairs import in_turn
from tests.conftest import _create_database, _drop_database
from tests.harness import free_port, postgres_database_url, stop_process_tree, wait_for
from tests.registry.conftest import Team, start_team
from tests.registry.load import OPS, Acked, Load, LoadReport, log_size, server_errors

#: Length of the uncounted warm-up round of each side (at most one round's length).
WARM_UP_SECONDS = 5


@contextmanager
def moto_server():
    """moto's S3 in a process of its own, so that serving it takes no turns with the clients."""
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(url, timeout=2).ok, timeout=60, what="moto")
        yield url
    finally:
        stop_process_tree(proc)


@contextmanager
def setup(name: str, root: Path, s3: str):
    """The team of ``name``: embedded (SQLite + local folder) or postgresql-s3 (on the S3 at ``s3``)."""
    if name == "embedded":
        team = start_team(root / name, "local", None, None)
        try:
            yield team
        finally:
            team.hub.stop()
        return
    database = _create_database()
    team = start_team(root / name, "s3", s3, postgres_database_url(database))
    try:
        yield team
    finally:
        team.hub.stop()
        _drop_database(database)


@dataclass
class Pushed:
    ref: str


class PlainS3Datasets:
    """The dataset calls `Load` makes, straight on S3: ``user/name/version/path`` keys, no registry."""

    def __init__(self, s3, bucket: str, user: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.user = user

    def _prefix(self, ref: str) -> str:
        name, version = ref.split(":")
        return f"{self.user}/{name}/{version}/"

    def _objects(self, prefix: str) -> list[dict]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [obj for page in pages for obj in page.get("Contents", [])]

    def _children(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix,
                                                                  Delimiter="/")
        return [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]

    def push(self, folder: Path, name: str, progress: bool = False) -> Pushed:
        ref = f"{name}:{uuid.uuid4().hex}"
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.s3.put_object(Bucket=self.bucket, Key=self._prefix(ref) + str(path.relative_to(folder)),
                               Body=path.read_bytes())
        return Pushed(ref)

    def pull(self, ref: str, dest: Path, progress: bool = False) -> None:
        prefix = self._prefix(ref)
        for obj in self._objects(prefix):
            path = dest / obj["Key"][len(prefix):]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.s3.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read())

    def get(self, ref: str) -> dict:
        prefix = self._prefix(ref)
        return {"files": [{"path": obj["Key"][len(prefix):], "size": obj["Size"]} for obj in self._objects(prefix)]}

    def list(self, namespace: str) -> list[str]:
        return self._children(namespace.removeprefix("users/") + "/")

    def versions(self, name: str) -> list[str]:
        return self._children(f"{self.user}/{name}/")


class PlainS3Client:
    """What `Load` uses of `mllab.client.Client`, on plain S3."""

    def __init__(self, s3, bucket: str, user: str) -> None:
        self._s3 = s3
        self.datasets = PlainS3Datasets(s3, bucket, user)

    def __enter__(self) -> PlainS3Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self._s3.close()


class PlainS3Load(Load):
    """`Load` with each client on plain S3 at ``endpoint``, in ``bucket``; the users stand in for the tokens.

    The clients come from ``session``, which has loaded S3's models before (as the registry's client library is
    imported before): loading them in each client would be time the registry's clients do not spend.
    """

    def __init__(self, session: boto3.session.Session, endpoint: str, bucket: str, users: list[str],
                 workdir: Path) -> None:
        super().__init__(endpoint, {user: user for user in users}, workdir)
        self.session = session
        self.bucket = bucket
        self._making = threading.Lock()

    def client(self, user: str, n: int) -> PlainS3Client:
        # A boto3 session makes clients in one thread at a time. No retries: a request that fails counts as an
        # error, as each retry of the registry's client does.
        with self._making:
            s3 = self.session.client("s3", endpoint_url=self.hub_url, region_name="us-east-1",
                                     config=BotoConfig(retries={"total_max_attempts": 1}))
        return PlainS3Client(s3, self.bucket, user)


def merged(reports: list[LoadReport]) -> LoadReport:
    """The rounds of one side as one report."""
    total = LoadReport(sum(r.seconds for r in reports), reports[0].clients)
    for report in reports:
        for op in OPS:
            total.latencies[op] += report.latencies[op]
        total.errors += report.errors
        total.acked += report.acked
    return total


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"{'-':>8s} {'-':>8s}"
    return f"{statistics.median(values) * 1000:8.1f} {statistics.quantiles(values, n=100)[98] * 1000:8.1f}"


def measure(name: str, team: Team, s3: str, root: Path, clients: int, seconds: float, rounds: int) -> None:
    tokens = {user: team.users[user][0].new_token() for user in team.users}
    since = log_size(team.hub.log_path)
    # A bucket of the setup's own: the reference's listings grow as the registry's do in this setup only.
    bucket = f"bench-load-{name}"
    session = boto3.session.Session()
    session.client("s3", endpoint_url=s3, region_name="us-east-1").create_bucket(Bucket=bucket)
    runs: dict[str, list[LoadReport]] = {"registry": [], "plain S3": []}
    warm_up: list[Acked] = []
    # Round 0 warms both up (the hub's first requests, the services' and moto's first calls) and is not counted.
    for n in range(rounds + 1):
        for side in in_turn(runs, n):
            load = (Load(team.hub.url, tokens, root / f"{name}-registry-{n}") if side == "registry"
                    else PlainS3Load(session, s3, bucket, sorted(tokens), root / f"{name}-reference-{n}"))
            report = load.run(clients, min(WARM_UP_SECONDS, seconds / rounds) if n == 0 else seconds / rounds,
                              seed=n)
            if n == 0:
                warm_up += report.acked if side == "registry" else []
            else:
                runs[side].append(report)
    reg, ref = merged(runs["registry"]), merged(runs["plain S3"])
    failed = server_errors(team.hub.log_path, since)

    print(f"[{name}] {clients} clients, {rounds} rounds of {seconds / rounds:.0f} s per side; reference: the same "
          "load on plain S3 (moto) with boto3")
    print(f"    {'':5s} {'registry':>24s}  {'plain S3 (reference)':>24s}  {'p50 of':>7s}")
    print(f"    {'':5s} {'done':>6s} {'p50 ms':>8s} {'p99 ms':>8s}  {'done':>6s} {'p50 ms':>8s} {'p99 ms':>8s}  "
          f"{'the ref':>7s}")
    for op in OPS:
        mine, theirs = reg.latencies[op], ref.latencies[op]
        p50_ratio = (f"{statistics.median(mine) / statistics.median(theirs):6.2f}x" if mine and theirs
                     else f"{'-':>7s}")
        print(f"    {op:5s} {len(mine):6d} {percentiles(mine)}  {len(theirs):6d} {percentiles(theirs)}  {p50_ratio}")
    rate = {side: report.operations / report.seconds for side, report in (("registry", reg), ("plain S3", ref))}
    print(f"    throughput: registry {rate['registry']:.1f} operations/s, plain S3 {rate['plain S3']:.1f} "
          f"operations/s -> {rate['registry'] / rate['plain S3']:.2f}x the reference")
    for side, report in (("registry", reg), ("plain S3", ref)):
        print(f"    {side}, {report.lines()[-1][:400]} (absolute target 0)")
    print(f"    server log: {len(failed)} lines of failed requests (absolute target 0)")
    for line in sorted(set(failed))[:10]:
        print(f"        {line[:300]}")
    acked = warm_up + reg.acked
    lost = Load(team.hub.url, tokens, root / f"{name}-check").lost(acked)
    print(f"    afterwards: {len(acked) - len(lost)} of {len(acked)} acknowledged versions (warm-up's too) pulled back "
          f"byte for byte; {len(lost)} lost or different (absolute target 0)" + (f", first: {lost[0]}" if lost else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--seconds", type=float, default=30,
                        help="how long they run, per side (registry, reference) and setup (default 30)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds the seconds are split into, alternating which side goes first (default 2)")
    parser.add_argument("--only", choices=["embedded", "postgresql-s3"], help="run one setup")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp, moto_server() as s3:
        for name in ("embedded", "postgresql-s3"):
            if args.only in (None, name):
                with setup(name, Path(tmp), s3) as team:
                    measure(name, team, s3, Path(tmp), args.clients, args.seconds, args.rounds)


if __name__ == "__main__":
    main()
