"""The registry on its own, as the helm chart runs it: ``mllab-registry --config FILE``, in a
process (a pod) of its own, declared to the hub as an external service.  Through the proxy it
behaves exactly as the managed service does."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from ..harness import Hub, env_with_node, free_port, stop_process_tree, wait_for
from .helpers import API, Registry, sha256


@pytest.fixture
def external(tmp_path, postgres_url):
    """A hub whose registry is an external service started here, with its own config file."""
    token = secrets.token_hex(32)
    registry_port, hub_api_port = free_port(), free_port()
    registry_config = tmp_path / "registry_config.py"
    registry_config.write_text(
        f"c.RegistryApp.db_url = {postgres_url!r}\n"
        f"c.LocalStorage.root = {str(tmp_path / 'blobs')!r}\n"
        "c.RegistryApp.cleanup_interval = 0\n"
    )
    hub_config = tmp_path / "hub_config.py"
    hub_config.write_text(
        f"c.JupyterHub.hub_port = {hub_api_port}\n"
        f"c.MLLab.services = {{'registry': {{'url': 'http://127.0.0.1:{registry_port}', 'api_token': {token!r}}}}}\n"
    )
    # Only JupyterHub's own variables, as z2jh gives a service in a pod of its own.
    env = {
        "PATH": env_with_node()["PATH"],
        "JUPYTERHUB_API_TOKEN": token,
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub_api_port}/hub/api",
        "JUPYTERHUB_SERVICE_PREFIX": "/services/registry/",
        "JUPYTERHUB_CLIENT_ID": "service-registry",
        "JUPYTERHUB_BASE_URL": "/",
    }
    log = open(tmp_path / "registry.log", "wb")  # noqa: SIM115 - kept open for the process's life
    registry = subprocess.Popen(
        [str(Path(sys.executable).parent / "mllab-registry"), "--config", str(registry_config),
         "--ip", "127.0.0.1", "--port", str(registry_port)],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    hub = Hub(data_dir=tmp_path / "data", port=free_port(), admin_password=secrets.token_urlsafe(12),
              args=["--config", str(hub_config)])
    try:
        wait_for(lambda: requests.get(f"http://127.0.0.1:{registry_port}/services/registry/api/v1/health",
                                      timeout=2).ok, what="the external registry")
        hub.start()
        yield hub, registry, tmp_path
    finally:
        hub.stop()
        stop_process_tree(registry)
        log.close()


def test_external_registry_serves_through_the_proxy(external, hub):
    team_hub, registry, root = external
    users = {name: team_hub.add_user(name)[0] for name in ("alice", "bob")}
    alice = Registry(team_hub, users["alice"].new_token())
    bob = Registry(team_hub, users["bob"].new_token())

    # The hub runs no registry of its own: the one answering is the process started here.
    assert not (team_hub.data_dir / "registry.sqlite").exists()
    files = {"train.csv": b"x,y\n" * 5000, "README.md": b"# external\n"}
    version, _ = alice.push("users/alice/ext", files)
    assert {f["path"]: f["sha256"] for f in version["files"]} == {p: sha256(d) for p, d in files.items()}
    assert alice.download("datasets", "users/alice/ext", "latest", "train.csv").content == files["train.csv"]
    assert any((root / "blobs").rglob(sha256(files["train.csv"]))), "the blob is in the external registry's store"

    # Scopes hold as with the managed service.
    assert bob.get("datasets/users/alice/ext").status_code == 403
    assert requests.get(team_hub.url + API + "datasets/users/alice/ext", timeout=10).status_code == 401
    models_only = Registry(team_hub, users["alice"].new_token(scopes=["custom:models:read!user"]))
    assert models_only.get("datasets/users/alice/ext").status_code == 403

    # The same OpenAPI document as the managed registry of an embedded hub.
    external_doc = requests.get(team_hub.url + API + "openapi.json", timeout=10).json()
    managed_doc = requests.get(hub.url + API + "openapi.json", timeout=10).json()
    assert external_doc == managed_doc

    # With the external process gone, the hub has nothing behind the route: the proxy's connection
    # is refused, which configurable-http-proxy answers 503 (its one code for a target that does
    # not answer), through the hub's error page.
    stop_process_tree(registry)
    assert requests.get(team_hub.url + API + "health", timeout=10).status_code == 503
