"""``DockerRuntime`` against a real engine: podman's Docker API (``tests/workspaces/engine.py``).

The model server runs from ``images/model-server/Dockerfile`` built here; services and jobs
from a small image built on it.  Each test's runtime has its own ``instance`` label and
network, removed at the end.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import docker.errors
import pytest
import requests
from mllab.hub.backends.resources import Resources
from mllab.services.deployments.runtimes.base import (
    MODEL_MOUNT,
    Handle,
    RuntimeUnavailable,
    State,
    Workload,
    WorkloadError,
)
from mllab.services.deployments.runtimes.docker import DockerRuntime

from ..harness import wait_for


@pytest.fixture
async def make_runtime(docker_host, docker_client, model_server_image):
    """``make_runtime(**traits)``: DockerRuntimes of one test instance; its containers and network go at the end."""
    instance = f"mllab-test-{secrets.token_hex(3)}"
    network = f"{instance}-net"
    made: list[DockerRuntime] = []

    def make(**traits) -> DockerRuntime:
        runtime = DockerRuntime(docker_host=docker_host, instance=instance, network_name=network,
                                model_image=model_server_image, stop_timeout=5, **traits)
        made.append(runtime)
        return runtime

    yield make
    for container in docker_client.containers.list(all=True, filters={"label": f"org.mllab.instance={instance}"}):
        container.remove(force=True)
    for found in docker_client.networks.list(names=[network]):
        found.remove()
    for runtime in made:
        await runtime.close()


def model(sklearn_model, id="mllab-m-users-alice-iris-1") -> Workload:
    return Workload(id=id, kind="model", namespace="users/alice", name="iris", model_dir=str(sklearn_model.path))


async def wait_state(runtime, handle: Handle, phase: str, timeout: float = 60) -> State:
    deadline = time.monotonic() + timeout
    while (state := await runtime.state(handle)).phase != phase:
        assert time.monotonic() < deadline, f"{handle.workload_id} is still {state}"
        await asyncio.sleep(0.2)
    return state


def wait_ready(url: str) -> None:
    wait_for(lambda: requests.get(f"{url}/v2/health/ready", timeout=2).ok, timeout=90, what=f"the model at {url}")


async def test_model_in_a_container(make_runtime, sklearn_model, assert_serves, docker_client):
    """The model answers both protocols through a port published on 127.0.0.1, from a hardened
    container with the model folder mounted read-only."""
    runtime = make_runtime()
    handle = await runtime.start(model(sklearn_model))
    assert handle.url == f"http://127.0.0.1:{handle.ref['host_port']}"
    wait_ready(handle.url)
    assert_serves(handle.url, "iris")

    container = docker_client.containers.get(handle.ref["container"])
    config, host = container.attrs["Config"], container.attrs["HostConfig"]
    assert config["User"] == "1000:1000"
    assert host["Privileged"] is False
    assert "no-new-privileges" in host["SecurityOpt"]
    # podman lists each capability of its default set it dropped; Docker keeps "ALL".
    assert host["CapDrop"] == ["ALL"] or {"CHOWN", "NET_RAW", "SETUID", "SETGID", "KILL"} <= set(host["CapDrop"])
    assert not host.get("CapAdd")
    # What the server's process holds: no capabilities at all.
    status = container.exec_run(["cat", "/proc/1/status"]).output.decode()
    assert {line.split()[0]: line.split()[1] for line in status.splitlines() if line.startswith("Cap")}[
        "CapEff:"] == "0000000000000000"
    bindings = host["PortBindings"]["8080/tcp"]
    assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]
    mount = next(m for m in container.attrs["Mounts"] if m["Destination"] == MODEL_MOUNT)
    assert mount["RW"] is False and mount["Source"] == str(sklearn_model.path)
    assert container.exec_run(["touch", f"{MODEL_MOUNT}/x"]).exit_code != 0
    labels = config["Labels"]
    assert labels["org.mllab.workload"] == handle.workload_id
    assert labels["org.mllab.namespace"] == "users/alice" and labels["org.mllab.kind"] == "model"

    await runtime.stop(handle)
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(handle.ref["container"])
    assert await runtime.state(handle) == State("gone")
    await runtime.stop(handle)  # idempotent


async def test_model_copied_and_reached_on_the_network(make_runtime, sklearn_model, assert_serves, docker_client):
    """``model_transfer = "copy"`` (no shared folder) and ``publish_host_port = False`` (the service on
    the network, as in compose): nothing is published, the container's address answers."""
    runtime = make_runtime(model_transfer="copy", publish_host_port=False)
    handle = await runtime.start(model(sklearn_model, id="mllab-m-users-alice-iris-2"))
    container = docker_client.containers.get(handle.ref["container"])
    assert not any((container.attrs["HostConfig"].get("PortBindings") or {}).values())
    assert not [m for m in container.attrs["Mounts"] if m["Destination"] == MODEL_MOUNT]
    ip = container.attrs["NetworkSettings"]["Networks"][runtime.network_name]["IPAddress"]
    assert handle.url == f"http://{ip}:8080"
    wait_ready(handle.url)
    assert_serves(handle.url, "iris")
    listing = container.exec_run(["ls", "-ln", MODEL_MOUNT]).output.decode()
    assert "MLmodel" in listing and all(line.split()[2] == "0" for line in listing.splitlines()[1:])
    assert container.exec_run(["touch", f"{MODEL_MOUNT}/x"]).exit_code != 0


async def test_service_from_an_image(make_runtime, service_image, docker_client):
    runtime = make_runtime()
    web = Workload(id="mllab-s-users-alice-web-1", kind="service", namespace="users/alice", name="web",
                   image=service_image, port=8000, env={"GREETING": "hi"},
                   resources=Resources(mem_limit=256 * 2**20, cpu_limit=0.5))
    handle = await runtime.start(web)
    wait_for(lambda: requests.get(handle.url, timeout=2).ok, timeout=60, what="the service")
    container = docker_client.containers.get(handle.ref["container"])
    assert container.attrs["HostConfig"]["Memory"] == 256 * 2**20
    assert container.attrs["HostConfig"]["CpuQuota"] == 50_000
    assert {"GREETING=hi", "PORT=8000"} <= set(container.attrs["Config"]["Env"])
    assert (await runtime.state(handle)).phase == "running"


async def test_job_exit_code_and_log(make_runtime, service_image):
    runtime = make_runtime()
    job = Workload(id="mllab-j-users-alice-etl-1", kind="job", namespace="users/alice", name="etl",
                   image=service_image, command=["sh", "-c", "echo hello from the job; sleep 1; echo bye; exit 3"])
    handle = await runtime.start(job)
    assert handle.url is None
    text = "".join([chunk async for chunk in runtime.follow(handle)])
    assert text.splitlines() == ["hello from the job", "bye"]
    assert await wait_state(runtime, handle, "exited") == State("exited", 3)
    assert await runtime.logs(handle, tail=1) == "bye\n"
    assert await runtime.logs(handle) == "hello from the job\nbye\n"


async def test_found_again_after_a_restart(make_runtime, sklearn_model, service_image):
    """A new runtime (the service restarted) lists what the first started, with the same URLs."""
    runtime = make_runtime()
    served = await runtime.start(model(sklearn_model))
    job = await runtime.start(Workload(id="mllab-j-users-alice-etl-2", kind="job", namespace="users/alice",
                                       name="etl", image=service_image, command=["sh", "-c", "exit 0"]))
    found = {h.workload_id: h for h in await make_runtime().list()}
    assert found == {served.workload_id: served, job.workload_id: job}
    # Another platform on the same engine sees none of them, and cannot remove them.
    other = DockerRuntime(docker_host=runtime.docker_host, instance="mllab-test-other")
    assert await other.list() == []
    assert await other.state(served) == State("gone")
    with pytest.raises(WorkloadError, match="not one of this platform's"):
        await other.stop(served)


async def test_start_replaces_the_same_id(make_runtime, service_image):
    runtime = make_runtime()
    web = Workload(id="mllab-s-users-alice-web-2", kind="service", namespace="users/alice", name="web",
                   image=service_image, port=8000)
    first = await runtime.start(web)
    second = await runtime.start(web)
    assert first.ref["container"] != second.ref["container"]
    assert [h.ref["container"] for h in await runtime.list()] == [second.ref["container"]]


@pytest.mark.parametrize("pull_policy", ["never", "ifnotpresent"])
async def test_missing_image(make_runtime, pull_policy):
    """No such image (and none to pull: nothing can be pulled here): refused, nothing left behind."""
    runtime = make_runtime(pull_policy=pull_policy)
    web = Workload(id="mllab-s-users-alice-web-3", kind="service", namespace="users/alice", name="web",
                   image="localhost:9/mllab-test-no-such-image:1", port=8000)
    message = "is not on the container engine" if pull_policy == "never" else "cannot pull image"
    with pytest.raises(WorkloadError, match=message):
        await runtime.start(web)
    assert await runtime.list() == []


async def test_engine_unreachable(tmp_path):
    runtime = DockerRuntime(docker_host=f"unix://{tmp_path}/no.sock")
    with pytest.raises(RuntimeUnavailable, match="cannot be reached"):
        await runtime.list()


def test_model_server_image(model_server_image, docker_client):
    """``images/model-server/Dockerfile``: the server as entrypoint, non-root, the client for ``mllab models pull``."""
    image = docker_client.images.get(model_server_image)
    config = image.attrs["Config"]
    assert config["User"] == "1000:1000"
    assert config["Entrypoint"] == ["tini", "--", "python", "-m", "mllab.services.deployments.modelserver"]
    assert config["Cmd"] == ["--model-dir", MODEL_MOUNT, "--host", "0.0.0.0", "--port", "8080"]
    out = docker_client.containers.run(
        model_server_image, entrypoint=["sh", "-c"], remove=True,
        command=["id -u; test -d /mnt/model && echo has-mount-point; mllab models pull --help | head -1"],
    )
    assert out.decode().splitlines()[:2] == ["1000", "has-mount-point"]
    assert "usage: mllab models pull" in out.decode()
