"""Backends as plug-ins: ``MLLab.backend`` selects the ``jupyterhub.spawners`` entry point
``mllab-<backend>``, whose class owns its options; `backend_config` is a pure function."""

from __future__ import annotations

import pytest
from jupyterhub.app import JupyterHub
from mllab.hub.backends import WORKSPACE_TOKEN_SCOPES, backend_config, spawner_class
from mllab.hub.backends.base import MLLabSpawner
from mllab.hub.backends.docker import MLLabDockerSpawner
from mllab.hub.backends.kubernetes import MLLabKubeSpawner
from mllab.hub.backends.local import MLLabLocalSpawner
from mllab.hub.platform import MLLab
from traitlets.config import Config

from ..harness import load_entry_point

BACKENDS = {"local": MLLabLocalSpawner, "docker": MLLabDockerSpawner, "kubernetes": MLLabKubeSpawner}
PUBLIC_URL = "http://127.0.0.1:8000/"


class StandInUser:
    name = "Ann.Lee"
    id = 7
    url = "/user/Ann.Lee/"
    escaped_name = "Ann.Lee"
    json_escaped_name = "Ann.Lee"


class StandInHub:
    public_host = ""
    base_url = "/"
    url = "http://127.0.0.1:34567/hub/"
    api_url = "http://127.0.0.1:34567/hub/api"


def make_spawner(cls, config: Config):
    return cls(config=config, user=StandInUser(), hub=StandInHub(), _mock=True, api_token="not-a-token",
               oauth_client_id="jupyterhub-user-ann")


@pytest.mark.parametrize(("backend", "cls"), BACKENDS.items(), ids=list(BACKENDS))
def test_entry_point_loads_the_class(backend, cls):
    assert load_entry_point("jupyterhub.spawners", f"mllab-{backend}") is cls
    assert spawner_class(backend) is cls
    assert issubclass(cls, MLLabSpawner)


@pytest.mark.parametrize(("backend", "cls"), BACKENDS.items(), ids=list(BACKENDS))
def test_jupyterhub_loads_the_entry_point_name(backend, cls):
    c = Config()
    c.JupyterHub.spawner_class = f"mllab-{backend}"
    assert JupyterHub(config=c).spawner_class is cls


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_config_names_the_entry_point(tmp_path, backend):
    mllab = MLLab(backend=backend, data_dir=str(tmp_path / "data"))
    c = backend_config(mllab, PUBLIC_URL)
    assert c.JupyterHub.spawner_class == f"mllab-{backend}"
    assert c.Spawner.server_token_scopes == WORKSPACE_TOKEN_SCOPES
    # Pure: the same settings give the same config, and nothing is made on disk.
    assert backend_config(mllab, PUBLIC_URL) == c
    assert not (tmp_path / "data").exists()


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match=r"no jupyterhub\.spawners entry point 'mllab-mainframe'"):
        spawner_class("mainframe")


def test_local_workspaces(tmp_path):
    mllab = MLLab(backend="local", data_dir=str(tmp_path), allow_root=True)
    spawner = make_spawner(MLLabLocalSpawner, backend_config(mllab, PUBLIC_URL))
    assert spawner.home_dir_template == str(tmp_path / "users" / "{username}")
    assert "--allow-root" in spawner.get_args()
    assert spawner.default_url == "/lab"
    env = spawner.get_env()
    assert env["MLLAB_URL"] == PUBLIC_URL
    assert env["MLLAB_REGISTRY_URL"] == PUBLIC_URL + "services/registry/"
    assert "MLLAB_DEPLOYMENTS_URL" not in env


def test_docker_workspaces_reach_the_hub_at_hub_host():
    mllab = MLLab(backend="docker", workspace_image="img:1", workspace_home="/home/ml",
                  profiles=[{"display_name": "Small", "mem_limit": "1G"}])
    c = backend_config(mllab, "http://127.0.0.1:8123/")
    assert c.JupyterHub.hub_ip == "0.0.0.0"
    c.MLLabDockerSpawner.hub_host = "host.containers.internal"
    spawner = make_spawner(MLLabDockerSpawner, c)
    # The hub API's port is the running hub's; the platform's is the public URL's.
    assert spawner.hub_connect_url == "http://host.containers.internal:34567"
    env = spawner.get_env()
    assert env["JUPYTERHUB_API_URL"] == "http://host.containers.internal:34567/hub/api"
    assert env["MLLAB_URL"] == "http://host.containers.internal:8123/"
    assert env["MLLAB_REGISTRY_URL"] == "http://host.containers.internal:8123/services/registry/"
    assert (spawner.image, spawner.notebook_dir, spawner.volumes) == ("img:1", "/home/ml", {"mllab-home-{username}":
                                                                                           "/home/ml"})
    assert spawner.format_volume_name(spawner.home_volume, spawner) == "mllab-home--41nn-2e-4cee"
    assert spawner._render_templates(spawner.extra_create_kwargs) == {
        "labels": {"org.mllab.role": "workspace", "org.mllab.user": "Ann.Lee"}, "user": "1000:1000",
    }
    assert (spawner.network_name, spawner.use_internal_ip, spawner.remove) == ("mllab", True, True)
    assert spawner.client_kwargs == {}


def test_docker_options_on_the_spawner_class():
    c = backend_config(MLLab(backend="docker"), PUBLIC_URL)
    c.MLLabDockerSpawner.docker_host = "unix:///run/podman/podman.sock"
    c.MLLabDockerSpawner.home_volume = "home-{username}"
    c.MLLabDockerSpawner.platform_url = "http://mllab.internal/"
    c.DockerSpawner.network_name = "lab"  # DockerSpawner's own options work as they do there
    c.DockerSpawner.remove = False
    c.Spawner.environment = {"MLLAB_REGISTRY_URL": "http://registry.internal/"}
    spawner = make_spawner(MLLabDockerSpawner, c)
    assert spawner.client_kwargs == {"base_url": "unix:///run/podman/podman.sock"}
    assert spawner.volumes == {"home-{username}": "/home/jovyan"}
    assert (spawner.network_name, spawner.remove) == ("lab", False)
    env = spawner.get_env()
    assert env["MLLAB_URL"] == "http://mllab.internal/"
    assert env["MLLAB_REGISTRY_URL"] == "http://registry.internal/", "the admin's environment wins"


@pytest.mark.parametrize(("public_url", "port"), [("http://hub.example.org/", 80), ("https://hub.example.org/", 443)])
def test_docker_platform_port_without_an_explicit_port(public_url, port):
    assert backend_config(MLLab(backend="docker"), public_url).MLLabDockerSpawner.platform_port == port
