"""Benchmark of the registry: transfers against boto3, service memory, re-push, metadata latency.

Everything runs in one go on this machine, against real processes (``mllab up``, moto as S3,
the machine's PostgreSQL), and each figure is printed next to its reference measured in the
same run, in rounds that alternate which goes first (`bench.pairs.in_turn`), or says that its
target is absolute:

1. Push one file with ``mllab.client`` (S3, presigned multipart parts in parallel) vs boto3
   ``upload_file`` (default TransferConfig) on the same endpoint; each push is split into its
   stages (client sha256, part PUTs, the service's S3 complete and sha256 read-back).  Target
   >= 0.9x.  Then pull it vs one streamed boto3 ``get_object`` of the same object, each transfer
   in a fresh process, with the client's CPU per GiB.  Target >= 1.0x.  Each prints the median
   of its rounds.
2. Local backend: growth of the service's RSS while a file streams in and out.  Absolute target
   <= 64 MiB.
3. Re-push of an unchanged dataset: bytes sent (absolute target 0) and time vs hashing it locally
   (target <= 1.2x); then the same bytes as a new dataset, which dedup alone spares: bytes sent
   (absolute target 0), time vs hashing it.
4. D datasets x V versions on PostgreSQL: p50 and p99 of list and get with a warm token, vs the
   same requests on a catalogue of 100 x V (another user's, same database).  Absolute target:
   p99 <= 30 ms.

    python bench/registry.py            # 128 MiB, 256 MiB streamed, 500 x 10: a few minutes
    python bench/registry.py --full     # 1 GiB, 2 GiB streamed, 10,000 x 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import boto3
import requests
from botocore.config import Config as BotoConfig
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mllab.client import Client, artifacts, transfer
from mllab.client.http import HubSession
from mllab.client.protocol import sha256_file
from mllab.services.paging import encode_cursor

from bench.load import moto_server
from bench.pairs import in_turn
from tests.conftest import _create_database, _drop_database
from tests.harness import service_process
from tests.registry.conftest import postgres_database_url, start_team
from tests.registry.helpers import API

MiB = 1024 * 1024
CHUNK = 8 * MiB


def make_file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for offset in range(0, size, CHUNK):
            f.write(os.urandom(min(CHUNK, size - offset)))
    return path


class Stages:
    """Wall time of each stage of a client push, measured around the library's own steps.

    Wraps (for this process only) the manifest hashing, the part transfers and the requests of
    the push so the figure explains itself; the push itself runs unchanged.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._undo: list = []

    def _wrap(self, owner, attr: str, stage) -> None:
        original = getattr(owner, attr)

        def timed_call(*args, **kwargs):
            name = stage(*args, **kwargs)
            if name is None:
                return original(*args, **kwargs)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

        setattr(owner, attr, timed_call)
        self._undo.append((owner, attr, original))

    def __enter__(self) -> Stages:
        def request_stage(_session, method, url, *args, **kwargs):
            if method == "POST" and url.endswith("/complete"):
                return "complete (server: S3 complete + verify sha256)"
            if method == "POST" and url.endswith("/uploads"):
                return "session"
            return None

        self._wrap(artifacts, "build_manifest", lambda *a, **k: "client sha256 + part CRC32s")
        self._wrap(transfer.Uploader, "send", lambda *a, **k: "part PUTs")
        self._wrap(HubSession, "request", request_stage)
        return self

    def __exit__(self, *exc) -> None:
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)

    def split(self, total: float) -> str:
        shown = dict(self.seconds)
        shown["other"] = max(0.0, total - sum(shown.values()))
        return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in shown.items())


class BotoComplete:
    """Seconds boto3 spends in CompleteMultipartUpload: the endpoint's share that both sides pay."""

    def __init__(self, s3) -> None:
        self.seconds = 0.0
        s3.meta.events.register("before-call.s3.CompleteMultipartUpload", self._start)
        s3.meta.events.register("after-call.s3.CompleteMultipartUpload", self._stop)

    def _start(self, **_) -> None:
        self._started = time.perf_counter()

    def _stop(self, **_) -> None:
        self.seconds = time.perf_counter() - self._started


def user_client(team, root: Path, workers: int | None) -> Client:
    # The resume cache is the bench's own, never ~/.cache of whoever runs it.
    return Client(team.hub.url, team.users["alice"][0].new_token(), env={"MLLAB_CACHE_DIR": str(root / "cache")},
                  **({"workers": workers} if workers else {}))


@contextmanager
def registry_team(root: Path, backend: str, s3_endpoint: str | None, workers: int | None, **options):
    """A hub with its registry on a fresh PostgreSQL database, and alice's client; all removed after."""
    database = _create_database()
    team = start_team(root / backend, backend, s3_endpoint, postgres_database_url(database), **options)
    client = user_client(team, root, workers)
    try:
        yield team, client
    finally:
        client.close()
        team.hub.stop()
        _drop_database(database)
        for path in (root / "in", root / "out"):
            shutil.rmtree(path, ignore_errors=True)


def server_verify_times(hub) -> str:
    """The registry's own log of its last blob verification (S3 complete vs read back + sha256)."""
    found = re.findall(r"Verified blob .*", hub.log_path.read_text(errors="replace"))
    return found[-1] if found else "no verification logged"


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def stream_object(s3, bucket: str, key: str, dest: Path) -> None:
    """One GET, streamed to ``dest`` in 8 MiB chunks."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    with open(dest, "wb") as f:
        for chunk in body.iter_chunks(CHUNK):
            f.write(chunk)


def bench_s3(root: Path, size: int, s3_endpoint: str, workers: int | None, rounds: int, push: bool = True) -> None:
    """Push and pull rounds; without ``push`` the file is pushed once, unmeasured, and only the pull is."""
    # The registry logs at INFO here, for its own split of the complete stage. Its own option, not a command of
    # its own: that would drop the arguments the hub gives it (its S3 and database among them).
    verbose = {"RegistryApp.log_level": "INFO"}
    with registry_team(root, "s3", s3_endpoint, workers, **verbose) as (team, client):
        data = make_file(root / "in" / "s3.bin", size)
        s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="bench-direct")
        boto_complete = BotoComplete(s3)
        # The same client without request checksums: its multipart uploads declare none, like the registry's
        # with s3_part_checksums off. moto then computes a full-object checksum at completion; with CRC32 per
        # part (boto3's default, the registry's by default) it combines the parts' instead.
        plain = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                             config=BotoConfig(request_checksum_calculation="when_required"))
        plain_complete = BotoComplete(plain)
        mb = size / MiB
        ratios = []
        if not push:
            s3.upload_file(str(data), "bench-direct", "s3.bin")
            client.datasets.push(data, "big")
        for n in range(1, rounds + 1 if push else 1):
            if n > 1:  # new content, so the registry has it to receive again
                with open(data, "r+b") as f:
                    f.write(os.urandom(MiB))
                s3.delete_object(Bucket="bench-direct", Key="s3.bin")
            took = {}  # who: seconds
            for who in in_turn(("boto3", "plain", "registry"), n - 1):
                if who == "boto3":
                    took[who], _ = timed(s3.upload_file, str(data), "bench-direct", "s3.bin")
                elif who == "plain":
                    took[who], _ = timed(plain.upload_file, str(data), "bench-direct", "plain.bin")
                    plain.delete_object(Bucket="bench-direct", Key="plain.bin")
                else:
                    with Stages() as stages:
                        took[who], pushed = timed(client.datasets.push, data, "big")
                    assert pushed.bytes_sent == size
            boto_up, plain_up, reg_up = took["boto3"], took["plain"], took["registry"]
            ratios.append(boto_up / reg_up)
            print(f"[1] S3 push {mb:.0f} MiB, round {n} (order: {', '.join(took)}): registry (mllab.client, "
                  f"{client.workers} workers) {mb / reg_up:.0f} MiB/s, boto3 upload_file {mb / boto_up:.0f} MiB/s "
                  f"-> {ratios[-1]:.2f}x")
            print(f"    registry {reg_up:.2f} s = {stages.split(reg_up)}")
            print(f"    boto3 {boto_up:.2f} s = parts {boto_up - boto_complete.seconds:.2f} s, "
                  f"S3 complete {boto_complete.seconds:.2f} s")
            print(f"    boto3 without checksums {plain_up:.2f} s = parts {plain_up - plain_complete.seconds:.2f} s, "
                  f"S3 complete {plain_complete.seconds:.2f} s -> registry {plain_up / reg_up:.2f}x of it")
            print(f"    server: {server_verify_times(team.hub)}")
        if push:
            print(f"[1] S3 push {mb:.0f} MiB: median of {rounds} rounds {statistics.median(ratios):.2f}x "
                  "(target >= 0.9x)")
        bench_pull(root, team, s3, data, rounds)


def pull_seconds(hub_url: str, token: str, cache: str, dest: Path) -> tuple[float, float]:
    """One ``mllab.client`` pull of ``big`` into ``dest``: wall and CPU seconds (the client is made before)."""
    with Client(hub_url, token, env={"MLLAB_CACHE_DIR": cache}) as client:
        return timed_cpu(client.datasets.pull, "big", dest)


def get_object_seconds(endpoint: str, bucket: str, key: str, dest: Path) -> tuple[float, float]:
    """One streamed ``get_object`` into ``dest``: wall and CPU seconds (boto3's client is made before)."""
    return timed_cpu(stream_object, boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1"), bucket, key,
                     dest)


def timed_cpu(fn, *args) -> tuple[float, float]:
    """Wall and CPU seconds (all of this process's threads) of ``fn(*args)``."""
    cpu = time.process_time()
    seconds, _ = timed(fn, *args)
    return seconds, time.process_time() - cpu


def in_fresh_process(fn, *args):
    """``fn(*args)`` in a process of its own.

    In the bench's process the two transfers would share its GIL and its allocator, and each
    measure would depend on what ran just before it: the reference ran up to 3x slower right
    after a pull, whichever order the round had.
    """
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def bench_pull(root: Path, team, s3, data: Path, rounds: int) -> None:
    """The latest version of ``big`` (``data``, also at bench-direct/s3.bin) pulled vs one streamed get_object.

    boto3's download_file is no reference here: it fetches ranges in parallel, and moto loads the whole object
    for each range. Each transfer runs in a fresh process (`in_fresh_process`).
    """
    mb, expected, ratios, cpu = data.stat().st_size / MiB, sha256_file(data), [], {"registry": [], "get_object": []}
    token, endpoint = team.users["alice"][0].new_token(), s3.meta.endpoint_url
    # Round 0 warms both up (an object's first read is the slowest) and is not counted.
    for n in range(0, rounds + 1):
        took = {}  # who: (wall, CPU) seconds
        # Each goes first in every other round, so neither always meets the warmer endpoint or page cache.
        for who in in_turn(("get_object", "registry"), n):
            if who == "registry":
                took[who] = in_fresh_process(pull_seconds, team.hub.url, token, str(root / "cache"), root / "out")
                assert sha256_file(root / "out" / data.name) == expected
                shutil.rmtree(root / "out")
            else:
                took[who] = in_fresh_process(get_object_seconds, endpoint, "bench-direct", "s3.bin",
                                             root / "stream.out")
                (root / "stream.out").unlink()
            # Each starts on the same disk: nothing of the other's left to flush, and the space its
            # gigabyte took just freed (on this VM a write into new space ran 2x slower).
            os.sync()
        if n == 0:
            continue
        seconds = {who: wall for who, (wall, _) in took.items()}
        ratios.append(seconds["get_object"] / seconds["registry"])
        for who, (_, spent) in took.items():
            cpu[who].append(spent / (mb / 1024))
        print(f"[1] S3 pull {mb:.0f} MiB, round {n}: registry (mllab.client) {mb / seconds['registry']:.0f} MiB/s, "
              f"boto3 get_object streamed {mb / seconds['get_object']:.0f} MiB/s -> {ratios[-1]:.2f}x")
    print(f"[1] S3 pull {mb:.0f} MiB: median of {rounds} rounds {statistics.median(ratios):.2f}x (target >= 1.0x)")
    # What the client itself costs: the pull's extra over the reference is its sha256, which shares
    # the machine's cores with the endpoint.
    print(f"    client CPU per GiB (median): registry {statistics.median(cpu['registry']):.2f} s, "
          f"get_object {statistics.median(cpu['get_object']):.2f} s, on {os.cpu_count()} cores shared with the "
          "S3 endpoint")


def bench_local(root: Path, stream_size: int, repush_size: int, workers: int | None, rounds: int) -> None:
    with registry_team(root, "local", None, workers) as (team, client):
        service = service_process(team.hub, "mllab.services.registry")
        data = make_file(root / "in" / "local.bin", stream_size)
        baseline = service.memory_info().rss
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], service.memory_info().rss)
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        client.datasets.push(data, "streamed")
        client.datasets.pull("streamed", root / "out")
        done.set()
        sampler.join()
        assert sha256_file(root / "out" / "local.bin") == sha256_file(data)
        print(f"[2] local backend, {stream_size / MiB:.0f} MiB in and out: service RSS grew "
              f"{(peak[0] - baseline) / MiB:.1f} MiB from {baseline / MiB:.0f} MiB at rest "
              "(absolute target: <= 64 MiB whatever the size streamed)")
        data.unlink()
        bench_repush(client, make_file(root / "in" / "repush.bin", repush_size), rounds)


def bench_repush(client: Client, data: Path, rounds: int) -> None:
    """Pushes that send nothing vs sha256 of the same file, which each push must at least do, in alternating rounds.

    "unchanged" pushes the same bytes under the same name again; "new dataset" under a new name each round:
    no unchanged shortcut, so dedup itself, which counts only blobs of versions the pusher may read (here
    alice's own).
    """
    client.datasets.push(data, "same")
    seconds: dict[str, list[float]] = {"sha256": [], "unchanged": [], "new dataset": []}
    sent = {"unchanged": 0, "new dataset": 0}
    for n in range(rounds):
        for who in in_turn(seconds, n):
            if who == "sha256":
                took, _ = timed(sha256_file, data)
            else:
                took, pushed = timed(client.datasets.push, data, "same" if who == "unchanged" else f"same-copy-{n}")
                assert pushed.unchanged == (who == "unchanged")
                sent[who] += pushed.bytes_sent
            seconds[who].append(took)
    hashing = statistics.median(seconds["sha256"])
    for who, target in (("unchanged", " (target <= 1.2x)"), ("new dataset", "")):
        took = statistics.median(seconds[who])
        print(f"[3] re-push of the same {data.stat().st_size / MiB:.0f} MiB, {who}: {sent[who]} bytes sent in "
              f"{rounds} pushes (absolute target 0); median {took:.2f} s vs {hashing:.2f} s to sha256 it -> "
              f"{took / hashing:.2f}x{target}")


#: A catalogue filled in by SQL in the database, in three statements: the API path is measured, not the filling.
POPULATE = (
    """INSERT INTO registry_artifacts (kind, namespace, name, description, created_at, updated_at, created_by,
                                       latest, next_number)
       SELECT 'datasets', :namespace, 'ds-' || lpad(i::text, 6, '0'), 'set ' || i, now(), now(), :user,
              :versions, :versions + 1
       FROM generate_series(0, :datasets - 1) AS i""",
    """INSERT INTO registry_versions (artifact_id, number, created_at, created_by, size, file_count, manifest_digest,
                                      metadata)
       SELECT a.id, n, now(), :user, 1, 1, md5(a.id || '-' || n) || md5(n || '-' || a.id), '{}'
       FROM registry_artifacts AS a, generate_series(1, :versions) AS n
       WHERE a.namespace = :namespace""",
    """INSERT INTO registry_version_files (version_id, path, size, sha256, media_type)
       SELECT v.id, 'f', 1, v.manifest_digest, 'text/plain'
       FROM registry_versions AS v JOIN registry_artifacts AS a ON a.id = v.artifact_id
       WHERE a.namespace = :namespace""",
    "ANALYZE",
)
#: Datasets of the reference catalogue (bob's), against which the large one (alice's) is measured.
REFERENCE_DATASETS = 100
#: The issue's absolute target for the p99 of a metadata request at 10,000 datasets x 10 versions.
TARGET_P99_MS = 30


def populate(db_url: str, user: str, datasets: int, versions: int) -> None:
    """datasets x versions (one file each) in ``user``'s namespace, named ``ds-000000`` on."""
    engine = create_engine(db_url)
    with engine.begin() as connection:
        for statement in POPULATE:
            connection.execute(text(statement), {"user": user, "namespace": f"users/{user}", "datasets": datasets,
                                                 "versions": versions})
    engine.dispose()


def bench_metadata(root: Path, datasets: int, versions: int, requests_each: int, rounds: int) -> None:
    """The same list and get requests on alice's large catalogue and bob's small one (the reference), in rounds
    that alternate whose go first: what the catalogue's size adds to a request's time."""
    database = _create_database()
    db_url = postgres_database_url(database)
    team = start_team(root / "meta", "local", None, db_url)
    try:
        fill_time, _ = timed(populate, db_url, "alice", datasets, versions)
        populate(db_url, "bob", REFERENCE_DATASETS, versions)
        base = team.hub.url + API
        sessions, sizes = {}, {"alice": datasets, "bob": REFERENCE_DATASETS}
        for user in sizes:
            sessions[user] = requests.Session()
            sessions[user].headers["Authorization"] = f"token {team.users[user][0].new_token()}"
            sessions[user].get(f"{base}datasets", params={"namespace": f"users/{user}"}).raise_for_status()  # warm

        def latencies(user: str, url_for, count: int) -> list[float]:
            found = []
            for i in range(count):
                start = time.perf_counter()
                sessions[user].get(url_for(user, i)).raise_for_status()
                found.append((time.perf_counter() - start) * 1000)
            return found

        # Pages start after a name spread over the whole catalogue, as a client paging deep into it would.
        def listing(user: str, i: int) -> str:
            return (f"{base}datasets?namespace=users/{user}&limit=50&after="
                    + encode_cursor([f"users/{user}", f"ds-{(i * 7919) % sizes[user]:06d}"]))

        def getting(user: str, i: int) -> str:
            return f"{base}datasets/users/{user}/ds-{(i * 7919) % sizes[user]:06d}/versions/latest"

        per_round = max(1, requests_each // rounds)
        for name, url_for in (("list (50 per page)", listing), ("get version", getting)):
            found: dict[str, list[float]] = {user: [] for user in sizes}
            for n in range(rounds):
                for user in in_turn(sizes, n):
                    found[user] += latencies(user, url_for, per_round)
            p50 = {user: statistics.median(values) for user, values in found.items()}
            p99 = {user: statistics.quantiles(values, n=100)[98] for user, values in found.items()}
            verdict = "ok" if p99["alice"] <= TARGET_P99_MS else "MISSED"
            print(f"[4] {name} on PostgreSQL, {len(found['alice'])} requests each: {datasets} datasets x {versions} "
                  f"versions p50 {p50['alice']:.1f} ms, p99 {p99['alice']:.1f} ms; reference {REFERENCE_DATASETS} x "
                  f"{versions} p50 {p50['bob']:.1f} ms, p99 {p99['bob']:.1f} ms -> p99 "
                  f"{p99['alice'] / p99['bob']:.2f}x the reference's; absolute target p99 <= {TARGET_P99_MS} ms: "
                  f"{verdict}")
        print(f"    (filled in {fill_time:.0f} s)")
    finally:
        team.hub.stop()
        _drop_database(database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="the issue's sizes: 1 GiB, 2 GiB, 10,000 x 10")
    parser.add_argument("--size", type=int, help="MiB pushed and pulled through S3 (default 128, full 1024)")
    parser.add_argument("--stream-size", type=int, help="MiB streamed with local storage (default 256, full 2048)")
    parser.add_argument("--datasets", type=int, help="datasets for the metadata test (default 500, full 10000)")
    parser.add_argument("--versions", type=int, default=10, help="versions per dataset (default 10)")
    parser.add_argument("--requests", type=int, default=300, help="requests per latency measurement")
    parser.add_argument("--only", choices=["s3", "pull", "local", "metadata"],
                        help="run one part (pull: the S3 pull alone, after one unmeasured push)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of each figure and its reference, alternating "
                        "which goes first (S3 push and pull, re-push, metadata)")
    parser.add_argument("--workers", type=int, help="the client's parallel transfers (default: the library's)")
    args = parser.parse_args()
    size = (args.size or (1024 if args.full else 128)) * MiB
    stream_size = (args.stream_size or (2048 if args.full else 256)) * MiB
    datasets = args.datasets or (10_000 if args.full else 500)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        root = Path(tmp)
        if args.only in (None, "s3", "pull"):
            with moto_server() as endpoint:
                bench_s3(root, size, endpoint, args.workers, args.rounds, args.only != "pull")
        if args.only in (None, "local"):
            bench_local(root, stream_size, size, args.workers, args.rounds)
        if args.only in (None, "metadata"):
            bench_metadata(root, datasets, args.versions, args.requests, args.rounds)


if __name__ == "__main__":
    main()
