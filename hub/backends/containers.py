"""What starts a container, written once for workspaces and deployments (Docker or podman).

`DockerEngine` is the option both name their engine with.  The rest are plain functions of
explicit arguments.  Those that talk to the engine take docker-py's
low-level ``docker.APIClient`` (DockerSpawner's ``client``; ``docker.DockerClient().api``)
and block, so async callers run them in an executor.
"""

from __future__ import annotations

import string
from typing import Any

import docker
import docker.errors
from escapism import escape as _escape
from traitlets import Unicode
from traitlets.config import LoggingConfigurable

from .pods import IMAGE_UID
from .resources import Resources

#: Prefix of the labels on what the platform starts (``org.mllab.role`` and friends).
LABEL_PREFIX = "org.mllab."
#: Docker's default CPU period (µs); a CPU limit is a quota of it.
CPU_PERIOD = 100_000
#: Networks every engine has: used as they are, never created.
BUILTIN_NETWORKS = frozenset({"bridge", "host", "none"})
_SAFE = frozenset(string.ascii_lowercase + string.digits)


class DockerEngine(LoggingConfigurable):
    """The engine a Docker-based class talks to: a mixin of the Docker spawner and runtime."""

    docker_host = Unicode(
        help="""
        URL of the Docker (or podman) API that runs the containers.

        Empty: ``$DOCKER_HOST``, else the local Docker socket.

            c.MLLabDockerSpawner.docker_host = "unix:///run/podman/podman.sock"  # workspaces
            c.DockerRuntime.docker_host = "unix:///run/podman/podman.sock"  # deployments
        """,
    ).tag(config=True)

    def docker_client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``docker.APIClient`` that reach `docker_host`."""
        return {"base_url": self.docker_host} if self.docker_host else docker.utils.kwargs_from_env()


def host_config(resources: Resources) -> dict[str, Any]:
    """Keyword arguments of ``APIClient.create_host_config`` that give a container ``resources``.

    Limits are hard (``mem_limit``; ``cpu_quota`` of a ``cpu_period``).  Docker has no
    guarantees: a memory reservation and a CPU weight (1024 per CPU) are its soft
    equivalents.  GPUs are NVIDIA device requests, as ``docker run --gpus N``.
    """
    config: dict[str, Any] = {}
    if resources.mem_limit:
        config["mem_limit"] = resources.mem_limit
    if resources.cpu_limit:
        config["cpu_period"] = CPU_PERIOD
        config["cpu_quota"] = int(resources.cpu_limit * CPU_PERIOD)
    if resources.mem_guarantee:
        config["mem_reservation"] = resources.mem_guarantee
    if resources.cpu_guarantee:
        config["cpu_shares"] = int(1024 * resources.cpu_guarantee)
    if resources.gpus:
        config["device_requests"] = [{"Driver": "nvidia", "Count": resources.gpus, "Capabilities": [["gpu"]]}]
    return config


def security_settings() -> dict[str, Any]:
    """Keyword arguments of ``APIClient.create_host_config`` that harden a container.

    No Linux capabilities, no privilege escalation (setuid binaries do not raise
    privileges), never privileged.  Run the container as `container_user` too.
    """
    return {"cap_drop": ["ALL"], "security_opt": ["no-new-privileges"], "privileged": False}


def container_user(uid: int = IMAGE_UID) -> str:
    """``create_container(user=...)`` of the platform's non-root image user: ``"1000:1000"``."""
    return f"{uid}:{uid}"


def labels(role: str, **subject: str) -> dict[str, str]:
    """The labels of something the platform starts: ``org.mllab.role`` and ``org.mllab.<key>``.

    ``labels("workspace", user="alice")`` -> ``{"org.mllab.role": "workspace", "org.mllab.user": "alice"}``
    """
    return {f"{LABEL_PREFIX}role": role, **{f"{LABEL_PREFIX}{key}": value for key, value in subject.items()}}


def escape(name: str) -> str:
    """``name`` with only lower-case letters, digits and ``-`` escapes: valid in any Docker name.

    The escaping of DockerSpawner (``-`` itself becomes ``-2d``), so distinct names stay distinct.
    """
    return _escape(name, safe=_SAFE, escape_char="-").lower()


def volume_name(template: str, **fields: str) -> str:
    """``template`` filled in with ``fields``, each escaped (`escape`).

    ``volume_name("mllab-home-{username}", username="Ann.Lee")`` -> ``"mllab-home-ann-2elee"``
    """
    return template.format(**{key: escape(value) for key, value in fields.items()})


def ensure_network(client: docker.APIClient, name: str, network_labels: dict[str, str]) -> bool:
    """Create the bridge network ``name`` unless it exists; True when it was created now.

    Engines' own networks (``bridge``, ``host``, ``none``) are used as they are.  A network
    created meanwhile by another caller counts as existing.
    """
    if name in BUILTIN_NETWORKS:
        return False
    # The engine's name filter matches substrings: compare the names themselves.
    if any(network["Name"] == name for network in client.networks(names=[name])):
        return False
    try:
        client.create_network(name, driver="bridge", labels=network_labels)
    except docker.errors.APIError as e:
        if e.status_code != 409:
            raise
        return False
    return True
