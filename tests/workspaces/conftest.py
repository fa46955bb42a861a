"""Fixtures of the workspace tests: a container engine, the workspace image, hubs on Docker."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..conftest import slow_fixture
from ..harness import Hub
from .engine import ensure_workspace_image, podman_service
from .tap import SocketTap

DOCKER_HUB_CONFIG = Path(__file__).with_name("docker_hub_config.py")


@pytest.fixture(scope="session")
@slow_fixture
def docker_host() -> Iterator[str]:
    """The Docker API URL of podman on this machine (the service is started when needed)."""
    if os.geteuid() != 0 or shutil.which("podman") is None:
        pytest.skip("the Docker backend tests need root and podman (`make system-packages`)")
    with podman_service() as url:
        yield url


@pytest.fixture(scope="session")
def workspace_image(docker_host) -> str:
    """``images/workspace/Dockerfile`` built for this checkout (once per machine and recipe)."""
    return ensure_workspace_image()


@pytest.fixture
def docker_client(docker_host):
    import docker

    client = docker.DockerClient(base_url=docker_host)
    yield client
    client.close()


@pytest.fixture
def engine_tap(docker_host, tmp_path) -> Iterator[SocketTap]:
    """The engine's socket with a recorder in front: what the hub asks the engine, verbatim."""
    with SocketTap(docker_host.removeprefix("unix://"), tmp_path / "tap.sock") as tap:
        yield tap


@pytest.fixture
def make_docker_hub(make_hub, docker_host, workspace_image, docker_client) -> Iterator[Callable[..., Hub]]:
    """``make_docker_hub(docker_host=None)``: a running hub with ``MLLab.backend = "docker"``.

    Each hub's containers, volumes and network carry their own prefix and are removed at the end.
    """
    prefixes: list[str] = []

    def make(docker_host_url: str | None = None) -> Hub:
        prefix = f"mllab-test-{secrets.token_hex(3)}"
        prefixes.append(prefix)
        env = {
            "MLLAB_TEST_PREFIX": prefix,
            "MLLAB_TEST_DOCKER_HOST": docker_host_url or docker_host,
            "MLLAB_TEST_IMAGE": workspace_image,
        }
        # The proxy listens where the containers can reach it (their route to the platform).
        return make_hub(args=["--ip", "0.0.0.0", "--config", str(DOCKER_HUB_CONFIG)], env=env)

    yield make
    for prefix in prefixes:
        for container in docker_client.containers.list(all=True, filters={"name": prefix}):
            container.remove(force=True)
        for volume in docker_client.volumes.list(filters={"name": prefix}):
            volume.remove(force=True)
        for network in docker_client.networks.list(names=[f"{prefix}-net"]):
            network.remove()
