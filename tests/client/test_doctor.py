"""``mllab doctor`` against real platforms (``mllab up`` processes): all ok on a healthy one; the FAIL
line with its fix, and exit status 1, for a dead S3 endpoint, a dead container engine, a stopped
service, a refused token, a stuck service and a URL where nothing runs."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Container, Iterator

import pytest
import requests
from mllab.client import doctor as doctor_checks
from mllab.client.config import Settings

from ..conftest import slow_fixture
from ..harness import MLLAB, Hub, free_port


def doctor(url: str, token: str) -> subprocess.CompletedProcess:
    """``mllab doctor`` as a laptop runs it: ``MLLAB_URL`` and ``MLLAB_TOKEN``, nothing of a workspace."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("JUPYTERHUB_", "MLLAB_"))}
    return subprocess.run([MLLAB, "doctor"], env={**env, "MLLAB_URL": url, "MLLAB_TOKEN": token},
                          capture_output=True, text=True, timeout=120)


def parts(result: subprocess.CompletedProcess) -> list[str]:
    """``"ok    proxy"``, ``"FAIL  registry storage"``, ...: each line up to its first colon."""
    return [line.split(":", 1)[0] for line in result.stdout.splitlines()]


#: Every check ``mllab doctor`` runs, in the order it prints them.
CHECKS = ("proxy", "hub API", "token", "workspace engine", "registry", "registry database", "registry storage",
          "deployments", "deployments database", "deployments runtime")


def outcomes(failed: Container[str] = ()) -> list[str]:
    """What `parts` gives when all of `CHECKS` run and only those in ``failed`` fail."""
    return [f"{'FAIL' if check in failed else 'ok':<6}{check}" for check in CHECKS]


def start_hub(root, config: str, ready_paths: tuple[str, ...] = Hub.ready_paths) -> Hub:
    (root / "jupyterhub_config.py").write_text(config)
    hub = Hub(data_dir=root / "data", port=free_port(), admin_password=secrets.token_urlsafe(12),
              args=["--config", str(root / "jupyterhub_config.py")], ready_paths=ready_paths)
    return hub.start()


@pytest.fixture(scope="module")
@slow_fixture
def broken(tmp_path_factory) -> Iterator[Hub]:
    """A hub whose registry stores in S3 at a port where nothing answers, and whose workspaces and
    deployments run on a container engine at an address where nothing answers."""
    dead = f"127.0.0.1:{free_port()}"
    hub = start_hub(tmp_path_factory.mktemp("broken"), (
        "c.MLLab.storage = 's3'\n"
        f"c.MLLab.s3_endpoint_url = 'http://{dead}'\n"
        "c.MLLab.s3_bucket = 'gone'\n"
        "c.MLLab.backend = 'docker'\n"
        f"c.MLLabDockerSpawner.docker_host = 'tcp://{dead}'\n"
        "c.DeploymentsApp.runtime = 'docker'\n"
        f"c.DockerRuntime.docker_host = 'tcp://{dead}'\n"
    ))
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
@slow_fixture
def stopped(tmp_path_factory) -> Iterator[Hub]:
    """A hub whose deployments service is declared external at an address where nothing runs (as
    if its pod were gone)."""
    hub = start_hub(tmp_path_factory.mktemp("stopped"), (
        f"c.MLLab.services = {{'deployments': {{'url': 'http://127.0.0.1:{free_port()}',"
        f" 'api_token': {secrets.token_hex(32)!r}}}}}\n"
    ), ready_paths=("hub/health", "services/registry/api/v1/health"))
    yield hub
    hub.stop()


def test_a_healthy_platform_is_all_ok(hub: Hub):
    result = doctor(hub.url, hub.admin().new_token())
    assert result.returncode == 0, result.stdout + result.stderr
    assert parts(result) == outcomes()
    lines = result.stdout.splitlines()
    assert f"ok    proxy: {hub.url} routes to the hub" in lines
    assert "ok    token: belongs to user admin" in lines
    engine = next(line for line in lines if line.startswith("ok    workspace engine: "))
    assert engine.startswith("ok    workspace engine: local processes of ")
    assert engine.endswith(f"{sys.executable}")  # the workspaces' server runs on the hub's Python
    assert "ok    registry storage: local folder" in lines
    assert "ok    deployments runtime: local runtime, 0 workloads" in lines
    assert result.stderr == ""


def test_any_users_token_will_do(hub: Hub):
    session, _ = hub.add_user("dora")
    result = doctor(hub.url, session.new_token())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    token: belongs to user dora" in result.stdout.splitlines()


def test_a_dead_store_and_engine_say_what_to_fix(broken: Hub):
    result = doctor(broken.url, broken.admin().new_token())
    assert result.returncode == 1
    assert parts(result) == outcomes(failed={"workspace engine", "registry storage", "deployments runtime"})
    lines = result.stdout.splitlines()
    assert (
        "FAIL  workspace engine: failed (DockerException). Fix: Check that the engine runs and that the hub reaches "
        "it (c.MLLab.backend, c.MLLabDockerSpawner.*; the hub's log has the error)."
    ) in lines
    assert (
        "FAIL  registry storage: failed (StorageUnavailable). Fix: Check that S3 answers at S3Storage.endpoint_url, "
        "that S3Storage.bucket exists and that the registry's keys may use it (the registry's log has the error)."
    ) in lines
    assert (
        "FAIL  deployments runtime: failed (RuntimeUnavailable). Fix: Check that the docker runtime's engine runs "
        "and that the service reaches it (DeploymentsApp.runtime, c.DockerRuntime.*; the deployments log has the "
        "error)."
    ) in lines
    assert result.stderr == "mllab: error: 3 of 10 checks failed; each FAIL line says what to do.\n"


def test_a_stopped_service_says_what_to_fix(stopped: Hub):
    result = doctor(stopped.url, stopped.admin().new_token())
    assert result.returncode == 1
    assert parts(result)[-2:] == ["ok    registry storage", "FAIL  deployments"]
    assert result.stdout.splitlines()[-1] == (
        "FAIL  deployments: the proxy gets no answer from it (HTTP 503). Fix: the deployments process is down or "
        "unreachable: the hub's log says why a managed service stopped (restart mllab up); an external one is "
        "started with mllab-deployments")


def test_a_token_that_may_not_read_servers(hub: Hub):
    """A token narrowed to the services: the workspace engine is not checked, and doctor says why."""
    session, _ = hub.add_user("fern")
    result = doctor(hub.url, session.new_token(scopes=["access:services!service=registry"]))
    assert result.returncode == 1
    assert parts(result) == outcomes(failed={"workspace engine"})
    assert ("FAIL  workspace engine: not checked: the token may not read this user's server. Fix: use a token "
            f"with your own scopes (make one at {hub.url}hub/token)") in result.stdout.splitlines()


def test_the_engine_check_is_each_users_own(hub: Hub):
    """The hub's route behind the workspace engine check answers for the token's own user only."""
    hub.add_user("gil")
    session, _ = hub.add_user("hana")
    token = session.new_token()
    own = requests.get(hub.url + "hub/api/mllab/users/hana/workspace-engine",
                       headers={"Authorization": f"token {token}"}, timeout=30)
    assert own.status_code == 200
    assert own.json()["detail"].startswith("local processes of ")
    other = requests.get(hub.url + "hub/api/mllab/users/gil/workspace-engine",
                         headers={"Authorization": f"token {token}"}, timeout=30)
    assert other.status_code == 404
    assert other.json()["message"] == "No access to resources or resources not found"
    anonymous = requests.get(hub.url + "hub/api/mllab/users/hana/workspace-engine", timeout=30)
    assert anonymous.status_code == 403


def test_a_token_the_hub_refuses(hub: Hub):
    result = doctor(hub.url, secrets.token_hex(16))
    assert result.returncode == 1
    assert f"FAIL  token: the hub refuses it (HTTP 403). Fix: make a new one at {hub.url}hub/token and set " \
           "MLLAB_TOKEN" in result.stdout.splitlines()


def test_nothing_running_at_the_url():
    url = f"http://127.0.0.1:{free_port()}/"
    result = doctor(url, "any")
    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first == (f"FAIL  proxy: no answer from {url} (Connection refused). Fix: start the platform (mllab up), "
                     "or set MLLAB_URL to its public address")
    assert all(line.startswith("FAIL") for line in result.stdout.splitlines())


def test_a_service_that_does_not_answer(monkeypatch):
    """A socket that takes the connection and never answers, as a stuck process does."""
    monkeypatch.setattr(doctor_checks, "TIMEOUT", 0.5)
    with socket.create_server(("127.0.0.1", 0)) as server, requests.Session() as http:
        url = f"http://127.0.0.1:{server.getsockname()[1]}/"
        settings = Settings(hub_url=url, hub_api_url=url + "hub/api/", registry_url=url + "services/registry/",
                            token="t")
        assert doctor_checks.check_service(http, settings, "registry") == [doctor_checks.Check(
            "registry", False, "no answer within 0.5 s", "its process may be stuck: the registry log says on what; "
            "restart it")]
