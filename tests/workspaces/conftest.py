"""Fixtures of the workspace tests: the workspace image, hubs on Docker (the engine is ``tests/conftest.py``'s)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..harness import Hub, hubs
from .engine import ensure_workspace_image
from .tap import SocketTap

DOCKER_HUB_CONFIG = Path(__file__).with_name("docker_hub_config.py")


@pytest.fixture(scope="session")
def workspace_image(docker_host) -> str:
    """``images/workspace/Dockerfile`` built for this checkout (once per machine and recipe)."""
    return ensure_workspace_image()


@pytest.fixture
def engine_tap(docker_host, tmp_path) -> Iterator[SocketTap]:
    """The engine's socket with a recorder in front: what the hub asks the engine, verbatim."""
    with SocketTap(docker_host.removeprefix("unix://"), tmp_path / "tap.sock") as tap:
        yield tap


@contextlib.contextmanager
def docker_hubs(make_hub: Callable[..., Hub], docker_host: str, image: str) -> Iterator[Callable[..., Hub]]:
    """``make(docker_host_url=None)``: a running hub (from ``make_hub``) with ``MLLab.backend = "docker"``.

    Each hub's containers, volumes and network carry their own prefix and are removed at the end.
    """
    import docker

    prefixes: list[str] = []

    def make(docker_host_url: str | None = None) -> Hub:
        prefix = f"mllab-test-{secrets.token_hex(3)}"
        prefixes.append(prefix)
        env = {
            "MLLAB_TEST_PREFIX": prefix,
            "MLLAB_TEST_DOCKER_HOST": docker_host_url or docker_host,
            "MLLAB_TEST_IMAGE": image,
        }
        # The proxy listens where the containers can reach it (their route to the platform).
        return make_hub(args=["--ip", "0.0.0.0", "--config", str(DOCKER_HUB_CONFIG)], env=env)

    try:
        yield make
    finally:
        client = docker.DockerClient(base_url=docker_host)
        for prefix in prefixes:
            for container in client.containers.list(all=True, filters={"name": prefix}):
                container.remove(force=True)
            for volume in client.volumes.list(filters={"name": prefix}):
                volume.remove(force=True)
            for network in client.networks.list(names=[f"{prefix}-net"]):
                network.remove()
        client.close()


@pytest.fixture
def make_docker_hub(make_hub, docker_host, workspace_image) -> Iterator[Callable[..., Hub]]:
    """Docker-backend hubs of the test's own (see `docker_hubs`)."""
    with docker_hubs(make_hub, docker_host, workspace_image) as make:
        yield make


@pytest.fixture(scope="module")
def docker_hub(tmp_path_factory, docker_host, workspace_image) -> Iterator[Hub]:
    """One Docker-backend hub shared by the tests of a module, each with users of its own."""
    with hubs(tmp_path_factory) as make_hub, docker_hubs(make_hub, docker_host, workspace_image) as make:
        yield make()
