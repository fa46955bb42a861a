"""Hub config of the Docker backend tests: podman's Docker API on this machine.

The test fixtures set the engine socket, the image built for this checkout and a prefix that
keeps each hub's containers, volumes and network apart.
"""

import os

c = get_config()  # noqa: F821 - provided by the config loader

prefix = os.environ["MLLAB_TEST_PREFIX"]
c.MLLab.backend = "docker"
c.MLLabDockerSpawner.docker_host = os.environ["MLLAB_TEST_DOCKER_HOST"]
# The hub runs on the host; podman names the host so inside containers.
c.MLLabDockerSpawner.hub_host = "host.containers.internal"
c.MLLabDockerSpawner.network_name = f"{prefix}-net"
c.MLLabDockerSpawner.home_volume = f"{prefix}-home-{{username}}"
c.MLLab.workspace_image = os.environ["MLLAB_TEST_IMAGE"]
c.MLLab.profiles = [
    {"display_name": "Small", "slug": "small", "cpu_limit": 0.5, "mem_limit": "512M", "mem_guarantee": "256M",
     "default": True},
    {"display_name": "Large with GPU", "slug": "gpu", "cpu_limit": 1.5, "mem_limit": "1G", "gpus": 1,
     "environment": {"MLLAB_TEST_PROFILE": "gpu"}},
]
c.MLLabDockerSpawner.prefix = prefix
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
# Deployments follow the workspaces onto the same engine (the docker runtime, by MLLab.backend),
# labelled apart from other hubs' (a fresh service removes the workloads of its instance it does not know).
c.DockerRuntime.docker_host = os.environ["MLLAB_TEST_DOCKER_HOST"]
c.Runtime.instance = prefix
