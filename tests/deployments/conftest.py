"""Fixtures of the deployments tests.

Runtimes and the model server (`sklearn_model`, `assert_serves`, `model_server_image`,
`service_image`) are in the first section; the service's fixtures follow in a section of their
own.  The container engine (`docker_host`, `docker_client`) is ``tests/conftest.py``'s.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..workspaces.engine import ensure_model_server_image, image_exists, podman

# --- runtimes and the model server -------------------------------------------------------------


@dataclass(frozen=True)
class SavedModel:
    """A small scikit-learn model saved in MLflow's format, and what it predicts."""

    path: Path
    columns: list[str]
    #: A few rows to predict (one of each class) and the classes the model gives them.
    rows: list[list[float]]
    expected: list[int]


@pytest.fixture(scope="session")
def sklearn_model(tmp_path_factory) -> SavedModel:
    """A LogisticRegression on iris with named columns and a signature, saved with ``mlflow.sklearn``.

    MLflow saves scikit-learn models in the ``skops`` format by default, so loading it needs
    the ``skops`` package, as a user's model would.
    """
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, target = load_iris(return_X_y=True, as_frame=True)
    features.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    model = LogisticRegression(max_iter=1000).fit(features, target)
    path = tmp_path_factory.mktemp("model") / "iris"
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(features, model.predict(features)))
    rows = features.iloc[[0, 60, 120]]
    expected = [int(v) for v in model.predict(rows)]
    assert sorted(expected) == [0, 1, 2], "the rows should be one of each class"
    return SavedModel(path, list(features.columns), rows.to_numpy().tolist(), expected)


def v2_request(model: SavedModel) -> dict:
    """An Open Inference Protocol request: the rows as one FP64 ``[n, k]`` tensor."""
    return {"id": "req-1", "inputs": [{"name": "input", "shape": [len(model.rows), len(model.columns)],
                                       "datatype": "FP64", "data": [v for row in model.rows for v in row]}]}


def mlflow_request(model: SavedModel) -> dict:
    """MLflow's scoring protocol: the rows as ``dataframe_split``."""
    return {"dataframe_split": {"columns": model.columns, "data": model.rows}}


@pytest.fixture
def assert_serves(sklearn_model):
    """``assert_serves(base_url, name)``: the model answers both protocols there, correctly."""
    import requests

    def check(base_url: str, name: str) -> None:
        base = base_url.rstrip("/")
        assert requests.get(f"{base}/v2/health/ready", timeout=10).status_code == 200
        answer = requests.post(f"{base}/v2/models/{name}/infer", json=v2_request(sklearn_model), timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "model_name": name, "id": "req-1",
            "outputs": [{"name": "predict", "shape": [3], "datatype": "INT64", "data": sklearn_model.expected}],
        }
        answer = requests.post(f"{base}/invocations", json=mlflow_request(sklearn_model), timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": sklearn_model.expected}

    return check


@pytest.fixture(scope="session")
def model_server_image(docker_host) -> str:
    """``images/model-server/Dockerfile`` built for this checkout (once per machine and recipe)."""
    return ensure_model_server_image()


#: A plain service image: whatever runs in it is the command (``$PORT`` is where to listen).
SERVICE_DOCKERFILE = """\
FROM {base}
ENTRYPOINT ["tini", "--"]
CMD ["sh", "-c", "exec python -m http.server \\"$PORT\\""]
"""


@pytest.fixture(scope="session")
def service_image(model_server_image, tmp_path_factory) -> str:
    """An image with an ordinary entrypoint (Python's, from the model server image), for services and jobs."""
    dockerfile = SERVICE_DOCKERFILE.format(base=model_server_image)
    ref = f"localhost/mllab-test-service:{hashlib.sha256(dockerfile.encode()).hexdigest()[:16]}"
    if not image_exists(ref):
        podman("build", "-t", ref, "-f", "-", str(tmp_path_factory.mktemp("empty-context")), input=dockerfile.encode(),
               stdout=subprocess.DEVNULL)
    return ref


# --- the deployments service (hubs, users, the REST API) -----------------------------------------

import asyncio  # noqa: E402
import secrets  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

import requests  # noqa: E402

from ..conftest import _create_database, _drop_database, slow_fixture  # noqa: E402
from ..harness import Hub, HubSession, free_port, postgres_database_url  # noqa: E402

API = "services/deployments/api/v1/"
#: A small HTTP service on ``$PORT`` (the local runtime gives each workload a free port).
HTTP_SERVICE = ["sh", "-c", 'exec "$0" -m http.server "$PORT" --bind 127.0.0.1', sys.executable]


def write_service_config(path: Path, db_url: str, lines: tuple[str, ...] = (), **options) -> Path:
    """A jupyterhub_config.py: the deployments service on ``db_url`` with quick checks, the
    services on fixed free ports (so the deployments service can be told the registry's
    address), ``options`` as ``c.DeploymentsApp.<key>`` (or ``Class.trait`` keys), and ``lines``."""
    registry_port, deployments_port = free_port(), free_port()
    settings = {
        "DeploymentsApp.db_url": db_url,
        "DeploymentsApp.registry_url": f"http://127.0.0.1:{registry_port}/services/registry/",
        "DeploymentsApp.check_interval": 1.0,
        "DeploymentsApp.ready_timeout": 60.0,
        "DeploymentsApp.rollout_drain": 0.5,
        "Runtime.stop_timeout": 5.0,
        **{key if "." in key else f"DeploymentsApp.{key}": value for key, value in options.items()},
    }
    text = [f"c.MLLab.service_ports = {{'registry': {registry_port}, 'deployments': {deployments_port}}}",
            *(f"c.{key} = {value!r}" for key, value in settings.items()), *lines]
    path.write_text("\n".join(text) + "\n")
    return path


@dataclass
class DeploymentsAPI:
    """Raw calls to the deployments service of ``hub`` as the owner of ``token`` (the tests check the
    service, so they do not go through the client library)."""

    hub: Hub
    token: str | None

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**({"Authorization": f"token {self.token}"} if self.token else {}), **kwargs.pop("headers", {})}
        url = path if path.startswith("http") else self.hub.url + API + path.lstrip("/")
        return requests.request(method, url, headers=headers, timeout=60, allow_redirects=False, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def endpoint(self, full_name: str, path: str = "", method: str = "GET", **kwargs) -> requests.Response:
        """A call through the platform URL of deployment ``full_name``."""
        url = f"{self.hub.url}services/deployments/endpoints/{full_name}/{path}"
        return self.call(method, url, **kwargs)

    def create(self, **spec) -> dict:
        answer = self.post("deployments", json=spec)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def wait(self, full_name: str, status: str, timeout: float = 90, what: Callable[[dict], bool] | None = None
             ) -> dict:
        """The deployment once its status is ``status`` (and ``what`` holds); fails on another final status."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.get(f"deployments/{full_name}")
            assert answer.status_code == 200, answer.text
            deployment = answer.json()
            if deployment["status"] == status and (what is None or what(deployment)):
                return deployment
            if deployment["status"] == "failed" and status != "failed":
                raise AssertionError(f"{full_name} failed: {deployment['message']}")
            assert time.monotonic() < deadline, f"{full_name} is {deployment['status']}, not {status}: {deployment}"
            time.sleep(0.2)

    def wait_run(self, job: str, number: int, timeout: float = 60) -> dict:
        """Run ``number`` of ``job`` once it is over."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(f"jobs/{job}/runs/{number}").json()
            if run["status"] not in ("pending", "running"):
                return run
            assert time.monotonic() < deadline, f"run {number} of {job} is still {run['status']}"
            time.sleep(0.2)


@dataclass
class Lab:
    """A hub with the deployments service on PostgreSQL and the local runtime, and three users."""

    hub: Hub
    db_url: str
    users: dict[str, tuple[HubSession, str]]

    def api(self, user: str | None, **token_body) -> DeploymentsAPI:
        """The API as ``user`` with a new token (``scopes=[...]`` to narrow it); None: no token."""
        return DeploymentsAPI(self.hub, self.users[user][0].new_token(**token_body) if user else None)

    @property
    def work_dir(self) -> str:
        return str(Path(self.hub.data_dir).absolute() / "deployments")

    def workloads(self) -> list:
        """What the local runtime holds for this hub (seen from the test, as the service sees it)."""
        from mllab.services.deployments.runtimes.local import LocalRuntime

        return asyncio.run(LocalRuntime(work_dir=self.work_dir).list())

    def workload_ids(self, prefix: str = "") -> set[str]:
        return {h.workload_id for h in self.workloads() if h.workload_id.startswith(prefix)}

    def stop_workloads(self) -> None:
        """Stop whatever the runtime still holds (workloads adopted after a restart are no longer
        the hub's descendants, so stopping the hub would not reach them)."""
        from mllab.services.deployments.runtimes.local import LocalRuntime

        async def stop_all() -> None:
            runtime = LocalRuntime(work_dir=self.work_dir, stop_timeout=5)
            for handle in await runtime.list():
                await runtime.stop(handle)

        asyncio.run(stop_all())

    def stop(self) -> None:
        self.hub.stop()
        self.stop_workloads()


def start_lab(root: Path, db_url: str, lines: tuple[str, ...] = (), **options) -> Lab:
    root.mkdir(parents=True, exist_ok=True)
    config = write_service_config(root / "deployments_config.py", db_url, lines, **options)
    hub = Hub(data_dir=root / "data", port=free_port(), admin_password=secrets.token_urlsafe(12),
              args=["--config", str(config)])
    hub.start()
    try:
        users = {name: hub.add_user(name) for name in ("alice", "bob", "carol")}
    except BaseException:
        hub.stop()
        raise
    return Lab(hub, db_url, users)


@pytest.fixture(scope="module")
@slow_fixture
def lab(tmp_path_factory) -> Iterator[Lab]:
    """A running hub with the deployments service on PostgreSQL (module-scoped); tests use names
    of their own (`unique`)."""
    database = _create_database()
    lab = start_lab(tmp_path_factory.mktemp("deployments"), postgres_database_url(database))
    yield lab
    lab.stop()
    _drop_database(database)


@pytest.fixture
@slow_fixture
def make_lab(tmp_path_factory, postgres_url) -> Iterator[Callable[..., Lab]]:
    """``make_lab(lines=(), **DeploymentsApp options)``: a hub of the test's own."""
    labs: list[Lab] = []

    def make(lines: tuple[str, ...] = (), **options) -> Lab:
        lab = start_lab(tmp_path_factory.mktemp("deployments"), postgres_url, lines, **options)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.stop()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Deployment and job names of their own for each test on a shared hub."""
    return lambda prefix="d": f"{prefix}-{secrets.token_hex(3)}"


@pytest.fixture
async def controller(postgres_url, tmp_path):
    """A controller of the service on PostgreSQL and the local runtime, without a hub; its clock
    and its calls are the test's (``controller.jobs.run_schedules(now=...)``, ``controller.reconcile()``)."""
    from mllab.services.deployments.controller import Controller
    from mllab.services.deployments.db import Database, migrate
    from mllab.services.deployments.proxy import Endpoints
    from mllab.services.deployments.runtimes.local import LocalRuntime

    migrate(postgres_url)
    db = Database(postgres_url)
    runtime = LocalRuntime(work_dir=str(tmp_path / "work"), stop_timeout=5)
    controller = Controller(db, runtime, Endpoints(), None, ready_timeout=30, rollout_drain=0.2,
                            run_poll_interval=0.1)
    yield controller
    await controller.close()
    for handle in await runtime.list():
        await runtime.stop(handle)
    db.close()


@pytest.fixture
def docker_lab(make_lab, docker_host, docker_client, model_server_image, service_image) -> Iterator[Lab]:
    """A hub of the test's own whose deployments run on podman (Docker API), under an instance label
    of their own; its containers and their networks are removed at the end."""
    instance = f"mllab-test-{secrets.token_hex(3)}"
    lab = make_lab(runtime="docker", allowed_images=[service_image], **{
        "DockerRuntime.docker_host": docker_host,
        "DockerRuntime.model_image": model_server_image,
        "Runtime.instance": instance,
    })
    lab.instance = instance
    yield lab
    lab.hub.stop()
    for container in docker_client.containers.list(all=True, filters={"label": f"org.mllab.instance={instance}"}):
        container.remove(force=True)
    # Each workload has a network of its own, labelled like its container.
    for found in docker_client.networks.list(filters={"label": f"org.mllab.instance={instance}"}):
        found.remove()
