"""``config/compose.yaml`` run for real: ``podman-compose`` on podman, used through the hub's port.

Nothing can be pulled on the test machines, so the images come from this checkout (the hub and
workspace images of ``images/``, built with podman on the local Debian base, as the other
container tests build theirs) and the two images users pull, PostgreSQL and MinIO, are swapped
for stand-ins built here by ``override.yaml`` (Debian's PostgreSQL; moto's S3 server).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from ..harness import MLLAB, REPO, Hub, api, free_port, spawn, wait_for
from ..workspaces.engine import ensure_hub_image, ensure_standin_image, ensure_workspace_image, podman, podman_env

# The first run on a machine builds the hub image and the two stand-ins (minutes each).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

HERE = Path(__file__).parent
COMPOSE_FILE = REPO / "config" / "compose.yaml"
HUB_CONFIG = REPO / "config" / "compose_config.py"
OVERRIDE = HERE / "override.yaml"
PODMAN_COMPOSE = str(Path(sys.executable).parent / "podman-compose")


@dataclass
class Platform:
    """A running compose project: its command line and the hub behind the published port."""

    project: str
    compose: list[str]
    env: dict[str, str]
    hub: Hub

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.compose, *args], env=self.env, capture_output=True, text=True, check=check,
                              timeout=300)

    def up(self, *services: str) -> None:
        up = self.run("up", "-d", *services, check=False)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]

    def healthy(self, service: str) -> bool:
        """The service's own health check (config/compose.yaml's, or the override's), run now."""
        [container] = [c["Id"] for c in self.containers() if c["Labels"]["com.docker.compose.service"] == service]
        return subprocess.run(["podman", "healthcheck", "run", container], env=self.env,
                              capture_output=True).returncode == 0

    def exec_hub(self, *command: str) -> str:
        """``docker compose exec hub ...``, as config/README.md tells admins."""
        return self.run("exec", "-T", "hub", *command).stdout

    def containers(self) -> list[dict]:
        listed = podman("ps", "-a", "--format", "json", "--filter", f"label=io.podman.compose.project={self.project}",
                        capture_output=True, text=True)
        return json.loads(listed.stdout or "[]")

    def logs(self) -> str:
        return "\n".join(
            f"--- {c['Names'][0]}\n" + subprocess.run(["podman", "logs", "--tail", "40", c["Id"]], env=self.env,
                                                      capture_output=True, text=True).stdout[-4000:]
            for c in self.containers()
        )


def remove_workspaces(name: str) -> None:
    """What the hub of installation ``name`` started (not compose's own), the homes it made and its
    network: all named or labelled with ``name``, so a real installation on the machine stays."""
    for filters in (["--filter", f"network={name}"], ["--filter", f"label=org.mllab.instance={name}"]):
        listed = subprocess.run(["podman", "ps", "-aq", *filters, "--filter", "label=org.mllab.role"],
                                env=podman_env(), capture_output=True, text=True)
        for container in listed.stdout.split():
            subprocess.run(["podman", "rm", "-f", container], env=podman_env(), capture_output=True)
    homes = subprocess.run(["podman", "volume", "ls", "-q", "--filter", f"name={name}-home-"], env=podman_env(),
                           capture_output=True, text=True)
    for volume in homes.stdout.split():
        subprocess.run(["podman", "volume", "rm", "-f", volume], env=podman_env(), capture_output=True)
    # The deployments' workloads each have a network, labelled like their containers.
    networks = subprocess.run(["podman", "network", "ls", "-q", "--filter", f"label=org.mllab.instance={name}"],
                              env=podman_env(), capture_output=True, text=True)
    for network in networks.stdout.split():
        subprocess.run(["podman", "network", "rm", "-f", network], env=podman_env(), capture_output=True)


@pytest.fixture(scope="module")
def platform(docker_host) -> Iterator[Platform]:
    started = time.monotonic()
    images = {
        "MLLAB_HUB_IMAGE": ensure_hub_image(),
        "MLLAB_WORKSPACE_IMAGE": ensure_workspace_image(),
        "MLLAB_TEST_POSTGRES_IMAGE": ensure_standin_image("postgres"),
        "MLLAB_TEST_S3_IMAGE": ensure_standin_image("s3"),
    }
    built = time.monotonic()
    # A bind mount of a missing path makes a folder there, which would stand in the socket's way.
    assert Path(docker_host.removeprefix("unix://")).is_socket(), f"{docker_host} is gone"
    port, endpoint_port = free_port(), free_port()
    project = f"mllab-compose-{secrets.token_hex(3)}"
    env = {
        **podman_env(),
        **images,
        # The installation's name: its containers, volumes and network are the test's own.
        "MLLAB_NAME": project,
        "MLLAB_PORT": str(port),
        "MLLAB_ENDPOINT_PORT": str(endpoint_port),
        "MLLAB_ENDPOINT_URL": f"http://127.0.0.1:{endpoint_port}/",
        "MLLAB_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "MLLAB_DOCKER_SOCKET": docker_host.removeprefix("unix://"),
    }
    compose = [PODMAN_COMPOSE, "-p", project, "-f", str(COMPOSE_FILE), "-f", str(OVERRIDE)]
    # Admin password from the hub's volume, never from the environment.
    hub = Hub(data_dir=Path("/nonexistent"), port=port, admin_password="")
    platform = Platform(project, compose, env, hub)
    try:
        # What `depends_on: condition: service_healthy` does on Docker: podman 4.3 cannot wait for
        # health, so PostgreSQL and MinIO are started first and their own health checks run here.
        platform.up("postgres", "minio")
        for service in ("postgres", "minio"):
            wait_for(lambda service=service: platform.healthy(service), timeout=120, interval=1,
                     what=f"{service}'s health check")
        platform.up()

        def healthy() -> bool:
            try:
                return all(requests.get(hub.url + path, timeout=2).status_code == 200 for path in hub.ready_paths)
            except requests.ConnectionError:
                return False

        try:
            wait_for(healthy, timeout=240, interval=1, what="the hub through its published port")
        except Exception as e:
            raise AssertionError(f"{e}\n{platform.logs()}") from e
        hub.admin_password = platform.exec_hub("cat", "/srv/mllab/admin-password").strip()
        print(f"\ncompose: images ready in {built - started:.0f}s, platform up in {time.monotonic() - built:.0f}s")
        yield platform
    finally:
        remove_workspaces(project)
        platform.run("down", "-v", "-t", "5", check=False)
        subprocess.run(["podman", "network", "rm", project], env=env, capture_output=True)


@pytest.fixture(scope="module")
def admin_token(platform) -> str:
    return platform.hub.admin().new_token("compose test")


def test_only_the_hub_ports_are_published(platform):
    """The hub's, and the endpoint origin the deployments service serves beside it."""
    # podman lists consecutive ports as one mapping with a range.
    published = {
        c["Labels"]["com.docker.compose.service"]: {(p["host_port"] + i, p["container_port"] + i)
                                                    for p in c.get("Ports") or [] for i in range(p.get("range", 1))}
        for c in platform.containers()
    }
    assert set(published) == {"secrets", "postgres", "minio", "hub"}
    endpoint_port = int(platform.env["MLLAB_ENDPOINT_PORT"])
    assert published == {"secrets": set(), "postgres": set(), "minio": set(),
                         "hub": {(platform.hub.port, 8000), (endpoint_port, 8001)}}


def test_secrets_are_generated_owner_only_and_not_in_the_files(platform):
    paths = ["/run/secrets/postgres-password", "/run/secrets/minio-password", "/srv/mllab/admin-password",
             "/srv/mllab/proxy-token", "/srv/mllab/jupyterhub_cookie_secret"]
    modes = platform.exec_hub("stat", "-c", "%a %U", *paths).split("\n")
    assert modes[: len(paths)] == ["600 root"] * len(paths)
    values = [platform.exec_hub("cat", path).strip() for path in paths]
    assert len(set(values)) == len(values) and all(len(value) >= 24 for value in values)
    written = "".join(path.read_text() for path in (COMPOSE_FILE, OVERRIDE, HUB_CONFIG))
    assert not [value for value in values if value in written]


def test_admin_logs_in_with_the_generated_password(platform):
    session = platform.hub.session()
    session.login("admin", platform.hub.admin_password)
    assert session.api("GET", "user").json()["admin"] is True
    with pytest.raises(AssertionError, match="login of admin failed"):
        platform.hub.session().login("admin", "not-the-password")


def test_dataset_push_and_pull_through_the_hub_port(platform, admin_token, tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "train.csv").write_bytes(b"x,y\n1,2\n")
    (data / "sub" / "blob.bin").write_bytes(os.urandom(3_000_000))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "AWS_"))}
    env.update(MLLAB_URL=platform.hub.url, MLLAB_TOKEN=admin_token, MLLAB_CACHE_DIR=str(tmp_path / "cache"))

    def mllab(*argv: str) -> dict:
        result = subprocess.run([MLLAB, *argv, "--json"], capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr + "\n" + platform.logs()
        return json.loads(result.stdout)

    pushed = mllab("datasets", "push", str(data), "iris")
    assert (pushed["ref"], pushed["files"]) == ("users/admin/iris:1", 2)
    pulled = mllab("datasets", "pull", "users/admin/iris:1", str(tmp_path / "out"))
    assert pulled["files_downloaded"] == 2
    for rel in ("train.csv", "sub/blob.bin"):
        assert (tmp_path / "out" / rel).read_bytes() == (data / rel).read_bytes()
    # The bytes went to the S3 server (through the proxy's route to the bucket), not to a hub folder.
    assert not platform.exec_hub("sh", "-c", "ls /srv/mllab/artifacts 2>/dev/null || true").strip()


def test_workspace_container_is_reached_through_the_hub(platform, admin_token):
    spawn(platform.hub, admin_token, "admin", timeout=180)
    status = api(platform.hub, admin_token, "GET", "user/admin/api/status")
    assert status.status_code == 200 and "started" in status.json()
    workspaces = subprocess.run(["podman", "ps", "--format", "json", "--filter", f"network={platform.project}",
                                 "--filter", "label=org.mllab.role=workspace"], env=platform.env,
                                capture_output=True, text=True, check=True)
    [container] = json.loads(workspaces.stdout)
    assert not container.get("Ports"), "a workspace publishes no port"
