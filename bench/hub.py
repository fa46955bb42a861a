"""Benchmark: N users log in, start a workspace, call its API and stop it.

The same flow runs against ``mllab up`` and against plain JupyterHub configured with the
same spawner (local processes) and the same authenticator (NativeAuthenticator), in the
same run, in rounds that alternate which hub goes first (`bench.pairs.in_turn`), so that drift
on the machine hits both alike.  It prints
throughput and p95 latency of the whole flow for each, and the ratio (target: ML Lab Hub
>= 0.9x plain JupyterHub).

    python bench/hub.py                 # 50 users, 10 at a time
    python bench/hub.py --users 200 --concurrency 20
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pairs import in_turn
from tests.harness import Hub, HubSession, api, free_port, spawn, stop_server

PLAIN_CONFIG = """
import os, sys
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.JupyterHub.db_url = "sqlite:///{data_dir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{data_dir}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{data_dir}/jupyterhub.pid"
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{data_dir}/users/{{username}}"
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]
c.JupyterHub.authenticator_class = "native"
c.NativeAuthenticator.open_signup = True
c.NativeAuthenticator.allow_all = True
c.Authenticator.admin_users = {{"admin"}}
"""


@dataclass
class PlainHub(Hub):
    """Plain ``jupyterhub`` with the same spawner and authenticator as the embedded default."""

    ready_paths: tuple[str, ...] = ("hub/health",)

    def command(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "jupyterhub_config.py"
        config.write_text(
            PLAIN_CONFIG.format(
                port=self.port, hub_port=free_port(), proxy_api_port=free_port(), data_dir=self.data_dir
            )
        )
        return [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(config)]


def user_flow(hub: Hub, username: str, password: str) -> float:
    """One user's session, timed: log in, get a token, start, call, stop."""
    start = time.perf_counter()
    session = HubSession(hub)
    session.login(username, password)
    token = session.new_token("bench")
    spawn(hub, token, username, timeout=300)
    status = api(hub, token, "GET", f"user/{username}/api/status")
    status.raise_for_status()
    stop_server(hub, token, username, timeout=120)
    return time.perf_counter() - start


def prepare_users(hub: Hub, names: list[str], password: str, approve: bool) -> None:
    admin = hub.admin() if approve else None
    for name in names:
        response = hub.session().signup(name, password)
        response.raise_for_status()
        if admin is not None:
            admin.get(hub.url + f"hub/authorize/{name}").raise_for_status()


def run_round(hub: Hub, names: list[str], password: str, concurrency: int) -> tuple[list[float], list[str], float]:
    """Latencies of the users whose flow worked, and what went wrong for the others."""

    def attempt(name: str) -> float | str:
        try:
            return user_flow(hub, name, password)
        except Exception as e:
            return f"{name}: {e}"

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        outcomes = list(pool.map(attempt, names))
    wall = time.perf_counter() - start
    return [o for o in outcomes if isinstance(o, float)], [o for o in outcomes if isinstance(o, str)], wall


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="simulated users per hub (default 50)")
    parser.add_argument("--concurrency", type=int, default=10, help="users at a time (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per hub (default 2)")
    args = parser.parse_args()
    os.environ["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), str(Path(__file__).resolve().parents[1] / "node_modules" / ".bin"),
         os.environ["PATH"]]
    )

    password = secrets.token_urlsafe(12)
    per_round = [args.users // args.rounds + (1 if r < args.users % args.rounds else 0) for r in range(args.rounds)]
    results: dict[str, dict[str, list]] = {}
    with tempfile.TemporaryDirectory(prefix="mllab-bench-") as tmp:
        hubs = {
            "mllab": Hub(Path(tmp) / "mllab" / "data", free_port(), secrets.token_urlsafe(12)),
            "jupyterhub": PlainHub(Path(tmp) / "plain" / "data", free_port(), secrets.token_urlsafe(12)),
        }
        try:
            for label, hub in hubs.items():
                hub.data_dir.parent.mkdir(parents=True, exist_ok=True)
                hub.start(timeout=120)
                names = [f"u{i:04d}" for i in range(args.users)]
                prepare_users(hub, names, password, approve=label == "mllab")
                results[label] = {"latencies": [], "errors": [], "walls": [], "names": names}
            for r, count in enumerate(per_round):
                for label in in_turn(hubs, r):
                    hub = hubs[label]
                    names = results[label]["names"][sum(per_round[:r]) : sum(per_round[:r]) + count]
                    latencies, errors, wall = run_round(hub, names, password, args.concurrency)
                    results[label]["latencies"] += latencies
                    results[label]["errors"] += errors
                    results[label]["walls"].append(wall)
                    print(f"round {r + 1} {label:10s} {count} users in {wall:6.1f} s, {len(errors)} failed", flush=True)
                    for error in errors:
                        print(f"    {error}", flush=True)
                        user = error.split(":", 1)[0]
                        for line in [x for x in hub.log_tail(100000).splitlines() if f"/{user}/" in x][-6:]:
                            print(f"      | {line[:200]}", flush=True)
        finally:
            for hub in hubs.values():
                hub.stop()

    summary = {}
    for label, result in results.items():
        throughput = len(result["latencies"]) / sum(result["walls"])
        summary[label] = (throughput, p95(result["latencies"]))
    print(f"\n{args.users} users per hub, {args.concurrency} at a time: log in, start workspace, call API, stop")
    print(f"{'':12s} {'users/s':>9s} {'p95 s':>8s} {'failed':>7s}")
    for label, (throughput, latency) in summary.items():
        print(f"{label:12s} {throughput:9.3f} {latency:8.2f} {len(results[label]['errors']):7d}")
    ratio = summary["mllab"][0] / summary["jupyterhub"][0]
    latency_ratio = summary["jupyterhub"][1] / summary["mllab"][1]
    print(f"\nthroughput ratio mllab/jupyterhub: {ratio:.2f}x (target >= 0.9x)")
    print(f"p95 latency ratio jupyterhub/mllab: {latency_ratio:.2f}x (>1 means mllab is faster)")


if __name__ == "__main__":
    main()
