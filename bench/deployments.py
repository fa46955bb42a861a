"""Benchmark of model deployments: inference through the platform URL against straight to the model server.

Everything runs on this machine in one go, against real processes: ``mllab up`` (local runtime),
a scikit-learn model trained here, saved in MLflow's format, registered with ``mllab.client``
and deployed. Each figure is printed next to its reference measured in the same run, in rounds
that alternate which goes first (`bench.pairs.in_turn`), so drift on the machine hits both alike:

1. Latency, 1 client: p50 and p95 of ``POST invocations`` (one row of iris) through the platform
   URL (proxy -> deployments service -> model server, with a hub token) vs straight to the model
   server's port. Absolute target: added p50 <= 2 ms.
2. Throughput, 16 concurrent clients (threads, each with its own ``requests.Session``), each
   round bounded in time and in requests. Target: platform >= 0.8x direct.
3. Rollout under load: a second version (a constant classifier, so every answer says which
   version gave it) gets the ``production`` alias, and ``rollout`` runs while client loops
   keep sending requests through the platform URL. Absolute target: 0 failed requests.

The deployments API does not say where a deployment's runtime listens (that is the service's
business, and no runtime port is meant to be reached from outside the host). The direct
reference is found the way an operator on the host would: with psutil, the process running
``python -m mllab.services.deployments.modelserver ... --name <deployment> --port <port>`` whose
environment's ``MLLAB_WORK_DIR`` lies in this hub's data folder (the local runtime sets it).
A third column, "service", sends the same requests to the deployments service's own port,
skipping the hub's proxy (configurable-http-proxy), to show where the added time goes. A fourth,
"origin", goes to the endpoint origin the deployments service serves itself
(``DeploymentsApp.endpoint_port``, the URL the API gives as the deployment's ``url``): what
production callers use when the admin gives endpoints a host name of their own.
All traffic goes to 127.0.0.1.

    python bench/deployments.py                      # about two minutes
    python bench/deployments.py --requests 3000 --seconds 15
"""

from __future__ import annotations

import argparse
import logging
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mllab.client import Client

from bench.pairs import in_turn
from tests.harness import Hub, free_port, wait_for

MODEL_SERVER_MODULE = "mllab.services.deployments.modelserver"
DEPLOYMENT = "bench"
#: One row of iris (a setosa): the first version answers 0, the constant second version 2.
FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
PAYLOAD = {"dataframe_split": {"columns": FEATURES, "data": [[5.1, 3.5, 1.4, 0.2]]}}


# -- the model -------------------------------------------------------------------------------------

def save_model(path: Path, constant: int | None = None) -> Path:
    """Iris LogisticRegression (or a classifier answering ``constant``), saved with ``mlflow.sklearn``."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True, as_frame=True)
    model = (LogisticRegression(max_iter=500) if constant is None
             else DummyClassifier(strategy="constant", constant=constant))
    model.fit(x, y)
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(x, model.predict(x)))
    return path


# -- finding the reference targets -----------------------------------------------------------------

def model_server_url(data_dir: Path, name: str) -> str:
    """The model server of deployment ``name`` of the hub in ``data_dir``, found with psutil (see the docstring)."""
    found = set()  # the local runtime's sh wrapper carries the server's command line too
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if MODEL_SERVER_MODULE not in cmd or "--port" not in cmd or "--name" not in cmd:
            continue
        if cmd[cmd.index("--name") + 1] != name:
            continue
        try:
            work_dir = proc.environ().get("MLLAB_WORK_DIR", "")
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
        if not Path(work_dir).resolve().is_relative_to(data_dir.resolve()):
            continue
        host = cmd[cmd.index("--host") + 1] if "--host" in cmd else "127.0.0.1"
        found.add(f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{cmd[cmd.index('--port') + 1]}/")
    if len(found) != 1:
        raise RuntimeError(f"expected one model server for {name!r} under {data_dir}, found {sorted(found)}")
    return found.pop()


def service_url(hub: Hub) -> str | None:
    """The deployments service's own address (``GET /hub/api/services/deployments``, as admin), or None."""
    try:
        model = hub.admin().api("GET", "services/deployments").json()
    except (requests.RequestException, ValueError):
        return None
    return model.get("url") if isinstance(model, dict) else None


# -- measuring ----------------------------------------------------------------------------------------

@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def call(session: requests.Session, target: Target) -> requests.Response:
    return session.post(target.url, json=PAYLOAD, headers=target.headers, timeout=30)


def latencies(target: Target, count: int) -> list[float]:
    """Seconds of ``count`` sequential requests on one kept-alive connection; a failure stops the bench."""
    out = []
    with requests.Session() as session:
        for _ in range(count):
            start = time.perf_counter()
            response = call(session, target)
            out.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise RuntimeError(f"{target.name}: {response.status_code} {response.text[:200]}")
    return out


def throughput(target: Target, clients: int, seconds: float, max_requests: int) -> tuple[float, int]:
    """Requests per second with ``clients`` threads, until ``seconds`` or ``max_requests``; and the failures."""
    done, failed = Counter(), Counter()
    stop = threading.Event()
    budget = threading.Semaphore(max_requests)

    def client(i: int) -> None:
        with requests.Session() as session:
            while not stop.is_set() and budget.acquire(blocking=False):
                try:
                    ok = call(session, target).status_code == 200
                except requests.RequestException:
                    ok = False
                (done if ok else failed)[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return sum(done.values()) / elapsed, sum(failed.values())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Loop:
    """Client loops through the platform URL, counting answers per prediction and failures, until stopped."""

    target: Target
    clients: int = 4
    answers: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                try:
                    response = call(session, self.target)
                    outcome = (str(response.json()["predictions"][0]) if response.status_code == 200
                               else f"{response.status_code} {response.text[:120]}")
                    ok = response.status_code == 200
                except (requests.RequestException, ValueError, KeyError, IndexError) as e:
                    outcome, ok = f"{type(e).__name__}: {e}"[:160], False
                with self._lock:
                    if ok:
                        self.answers[outcome] += 1
                    else:
                        self.failures.append(outcome)

    def __enter__(self) -> Loop:
        self._threads = [threading.Thread(target=self._run) for _ in range(self.clients)]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


# -- the run ----------------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests per target for latency")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per measurement")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients for throughput")
    parser.add_argument("--seconds", type=float, default=5, help="length of one throughput round")
    parser.add_argument("--max-requests", type=int, default=50_000, help="cap of one throughput round")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="mllab-bench-deployments-") as tmp:
        root = Path(tmp)
        config = root / "endpoint_origin_config.py"
        config.write_text(f"c.DeploymentsApp.endpoint_port = {free_port()}\n")
        hub = Hub(data_dir=root / "data", port=free_port(), admin_password=secrets.token_urlsafe(12),
                  args=["--config", str(config)])
        print(f"Starting a hub on {hub.url} (local runtime) ...", flush=True)
        hub.start(timeout=120)
        try:
            run_bench(hub, root, args)
        finally:
            hub.stop()


def run_bench(hub: Hub, root: Path, args: argparse.Namespace) -> None:
    session, _ = hub.add_user("alice")
    token = session.new_token("deployments bench")
    client = Client(hub.url, token, env={"MLLAB_CACHE_DIR": str(root / "cache")})

    print("Training, registering and deploying an iris model ...", flush=True)
    registered = client.models.register(save_model(root / "v1"), "iris-clf", progress=False)
    client.models.alias(registered.ref, "production")
    started = time.perf_counter()
    deployment = client.deployments.create("iris-clf@production", name=DEPLOYMENT, wait=True, timeout=300,
                                           progress=False)
    print(f"  {deployment['full_name']} ready in {time.perf_counter() - started:.1f} s, serving "
          f"{deployment['model']} (v{deployment['model_version']})")

    auth = {"Authorization": f"token {token}"}
    platform = Target("platform", client.deployments.endpoint_url(DEPLOYMENT) + "invocations", auth)
    direct = Target("direct", model_server_url(hub.data_dir, DEPLOYMENT) + "invocations")
    origin = Target("origin", deployment["url"] + "invocations", auth)
    targets = [direct, origin, platform]
    own = service_url(hub)
    if own:
        prefix = "services/deployments/" if not own.rstrip("/").endswith("services/deployments") else ""
        targets.insert(2, Target("service", own.rstrip("/") + "/" + prefix +
                                 f"endpoints/users/alice/{DEPLOYMENT}/invocations", auth))
    for target in targets:
        answer = requests.post(target.url, json=PAYLOAD, headers=target.headers, timeout=30)
        assert answer.status_code == 200 and answer.json() == {"predictions": [0]}, (target, answer.text[:300])
        print(f"  {target.name:9} {target.url}")

    per_round = max(1, args.requests // args.rounds)
    lat: dict[str, list[float]] = {t.name: [] for t in targets}
    tput: dict[str, list[float]] = {t.name: [] for t in targets}
    failures: Counter = Counter()
    print(f"Latency: {args.rounds} rounds x {per_round} requests per target, 1 client ...", flush=True)
    for target in targets:
        latencies(target, 50)  # warm-up: connections, caches (the service's token cache)
    for i in range(args.rounds):
        for target in in_turn(targets, i):
            lat[target.name] += latencies(target, per_round)
    print(f"Throughput: {args.rounds} rounds x {args.seconds:.0f} s per target, {args.clients} clients ...",
          flush=True)
    for i in range(args.rounds):
        for target in in_turn(targets, i):
            rate, failed = throughput(target, args.clients, args.seconds, args.max_requests)
            tput[target.name].append(rate)
            failures[target.name] += failed

    rollout = measure_rollout(client, root, platform)
    report(targets, lat, tput, failures, rollout, args)
    client.deployments.delete(DEPLOYMENT)
    client.close()


@dataclass
class RolloutResult:
    seconds: float
    answers: Counter
    failures: list[str]
    version_before: int
    version_after: int


def measure_rollout(client: Client, root: Path, platform: Target) -> RolloutResult:
    print("Rollout under load: version 2 gets the alias, rollout while 4 clients send requests ...", flush=True)
    registered = client.models.register(save_model(root / "v2", constant=2), "iris-clf", progress=False)
    client.models.alias(registered.ref, "production")
    before = client.deployments.get(DEPLOYMENT)["model_version"]
    with Loop(platform) as loop:
        time.sleep(1)
        started = time.perf_counter()
        client.deployments.rollout(DEPLOYMENT)
        wait_for(lambda: client.deployments.get(DEPLOYMENT)["model_version"] != before
                 and client.deployments.get(DEPLOYMENT)["status"] == "ready", timeout=300, interval=0.2,
                 what="the rollout")
        seconds = time.perf_counter() - started
        time.sleep(2)  # the old server's drain, and answers from the new one only
    after = client.deployments.get(DEPLOYMENT)["model_version"]
    return RolloutResult(seconds, loop.answers, loop.failures, before, after)


def report(targets: list[Target], lat: dict, tput: dict, failures: Counter, rollout: RolloutResult,
           args: argparse.Namespace) -> None:
    names = [t.name for t in targets]
    p50 = {n: statistics.median(lat[n]) for n in names}
    p95 = {n: percentile(lat[n], 0.95) for n in names}
    rate = {n: statistics.median(tput[n]) for n in names}
    added_p50 = p50["platform"] - p50["direct"]
    added_p95 = p95["platform"] - p95["direct"]
    ratio = rate["platform"] / rate["direct"]
    origin_p50 = p50["origin"] - p50["direct"]
    origin_ratio = rate["origin"] / rate["direct"]
    rows = [
        ["", *names, "platform vs direct", "origin vs direct", "target"],
        ["p50 latency, 1 client", *(ms(p50[n]) for n in names), f"+{added_p50 * 1000:.2f} ms",
         f"+{origin_p50 * 1000:.2f} ms",
         "<= +2 ms (absolute) " + ("ok" if max(added_p50, origin_p50) <= 0.002 else "MISSED")],
        ["p95 latency, 1 client", *(ms(p95[n]) for n in names), f"+{added_p95 * 1000:.2f} ms",
         f"+{(p95['origin'] - p95['direct']) * 1000:.2f} ms", ""],
        [f"throughput, {args.clients} clients", *(f"{rate[n]:.0f} req/s" for n in names), f"{ratio:.2f}x",
         f"{origin_ratio:.2f}x", ">= 0.8x " + ("ok" if min(ratio, origin_ratio) >= 0.8 else "MISSED")],
        ["failed requests (throughput)", *(str(failures[n]) for n in names), "", "", ""],
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    for row in rows:
        cells = zip(row, widths, strict=True)
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(cells)))
    total = sum(rollout.answers.values()) + len(rollout.failures)
    verdict = "ok" if not rollout.failures else "MISSED"
    print(f"\nrollout v{rollout.version_before} -> v{rollout.version_after} under 4 client loops: {total} requests, "
          f"{len(rollout.failures)} failed (absolute target 0: {verdict}); rollout took {rollout.seconds:.1f} s; "
          f"answers by prediction {dict(rollout.answers)} (0: version 1, 2: version 2)")
    for failure in rollout.failures[:5]:
        print(f"  failed: {failure}")
    print(f"\n(p50/p95 over {len(lat['direct'])} requests per target; throughput: median of {args.rounds} rounds "
          f"of {args.seconds:.0f} s; 'service' is the deployments service's own port, without the hub's proxy; "
          f"'origin' the endpoint origin it serves itself)")


if __name__ == "__main__":
    main()
