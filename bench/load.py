"""Load on the registry: many clients at once push small datasets, pull them and read metadata for a bounded
time, on the embedded default (SQLite, local storage) and on PostgreSQL with S3 (moto in a process of its own).

Prints per operation p50/p99, the throughput, the errors (target 0: a request that failed, a retry the client
had to make, a 5xx or traceback in the hub's log), then pulls back every version the registry acknowledged and
says what is missing or different (target: nothing).

    python bench/load.py                       # 50 clients, 30 s each setup
    python bench/load.py --clients 20 --seconds 10 --only embedded
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import _create_database, _drop_database
from tests.harness import free_port, postgres_database_url, stop_process_tree, wait_for
from tests.registry.conftest import Team, start_team
from tests.registry.load import Load, log_size, server_errors


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
def setup(name: str, root: Path):
    """The team of ``name``: embedded (SQLite + local folder) or postgresql-s3."""
    if name == "embedded":
        team = start_team(root / name, "local", None, None)
        try:
            yield team
        finally:
            team.hub.stop()
        return
    database = _create_database()
    with moto_server() as s3:
        team = start_team(root / name, "s3", s3, postgres_database_url(database))
        try:
            yield team
        finally:
            team.hub.stop()
            _drop_database(database)


def measure(name: str, team: Team, root: Path, clients: int, seconds: float) -> None:
    load = Load(team.hub.url, {user: team.users[user][0].new_token() for user in team.users}, root / f"{name}-work")
    since = log_size(team.hub.log_path)
    report = load.run(clients, seconds)
    failed = server_errors(team.hub.log_path, since)
    print(f"[{name}] {clients} clients for {seconds:.0f} s:")
    for line in report.lines():
        print(f"    {line}")
    print(f"    server log: {len(failed)} lines of failed requests")
    for line in sorted(set(failed))[:10]:
        print(f"        {line[:300]}")
    lost = load.lost(report.acked)
    print(f"    afterwards: {len(report.acked) - len(lost)} of {len(report.acked)} acknowledged versions pulled back "
          f"byte for byte; {len(lost)} lost or different (target 0)" + (f", first: {lost[0]}" if lost else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--seconds", type=float, default=30, help="how long they run, per setup (default 30)")
    parser.add_argument("--only", choices=["embedded", "postgresql-s3"], help="run one setup")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        for name in ("embedded", "postgresql-s3"):
            if args.only in (None, name):
                with setup(name, Path(tmp)) as team:
                    measure(name, team, Path(tmp), args.clients, args.seconds)


if __name__ == "__main__":
    main()
