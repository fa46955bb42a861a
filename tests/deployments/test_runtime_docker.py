"""``DockerRuntime`` against a real engine: podman's Docker API (``tests/workspaces/engine.py``).

The model server runs from ``images/model-server/Dockerfile`` built here; services and jobs
from a small image built on it.  Each test's runtime has its own ``instance`` label; its
containers and networks are removed at the end.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
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
from mllab.services.deployments.runtimes.docker import DockerRuntime, own_container_id

from ..harness import wait_for


@pytest.fixture
async def make_runtime(docker_host, docker_client, model_server_image):
    """``make_runtime(**traits)``: DockerRuntimes of one test instance; its containers (and any the test
    labels ``org.mllab.instance=<runtime.instance>``) and networks go at the end."""
    instance = f"mllab-test-{secrets.token_hex(3)}"
    made: list[DockerRuntime] = []

    def make(**traits) -> DockerRuntime:
        runtime = DockerRuntime(docker_host=docker_host, instance=instance, model_image=model_server_image,
                                stop_timeout=5, **traits)
        made.append(runtime)
        return runtime

    yield make
    ours = {"label": f"org.mllab.instance={instance}"}
    for container in docker_client.containers.list(all=True, filters=ours):
        container.remove(force=True)
    for found in docker_client.networks.list(filters=ours):
        found.remove()
    for runtime in made:
        await runtime.close()


def networks_of(docker_client, **labels: str) -> list[str]:
    """Names of the networks with these ``org.mllab.*`` labels."""
    filters = {"label": [f"org.mllab.{key}={value}" for key, value in labels.items()]}
    return sorted(network.name for network in docker_client.networks.list(filters=filters))


#: ``python -c PROBE host:port ...``: a TCP connection to each (``gateway``: the container's
#: default gateway, i.e. the engine's host), two seconds at most; one line each, open or closed.
PROBE = """
import socket, struct, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    if host == "gateway":
        route = [line.split() for line in open("/proc/net/route").read().splitlines()[1:]]
        host = next(socket.inet_ntoa(struct.pack("<L", int(r[2], 16))) for r in route if r[1] == "00000000")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        print(target, "open")
    except OSError as e:
        print(target, "closed", type(e).__name__)
"""


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


async def test_model_copied_and_reached_on_the_network(make_runtime, sklearn_model, assert_serves, docker_client,
                                                       service_image):
    """``model_transfer = "copy"`` (no shared folder) and ``publish_host_port = False`` (the service in a
    container, as in compose): nothing is published; the service's container joins the model's own
    network while the model runs, and reaches it at its address there."""
    runtime = make_runtime(model_transfer="copy", publish_host_port=False)
    # The deployments service's container, as in compose (on a network of its own, as the hub is).
    service = docker_client.containers.run(service_image, ["sleep", "300"], name=f"{runtime.instance}-service",
                                           labels={"org.mllab.instance": runtime.instance}, detach=True)
    runtime.service_container = service.name
    handle = await runtime.start(model(sklearn_model, id="mllab-m-users-alice-iris-2"))
    container = docker_client.containers.get(handle.ref["container"])
    assert not any((container.attrs["HostConfig"].get("PortBindings") or {}).values())
    assert not [m for m in container.attrs["Mounts"] if m["Destination"] == MODEL_MOUNT]
    assert list(container.attrs["NetworkSettings"]["Networks"]) == [handle.workload_id]
    ip = container.attrs["NetworkSettings"]["Networks"][handle.workload_id]["IPAddress"]
    assert handle.url == f"http://{ip}:8080"
    service.reload()
    assert handle.workload_id in service.attrs["NetworkSettings"]["Networks"]
    wait_ready(handle.url)
    ready = service.exec_run(["python", "-c", f"import urllib.request; print(urllib.request.urlopen("
                                              f"'{handle.url}/v2/health/ready', timeout=5).status)"])
    assert ready.output.decode().strip() == "200", ready.output
    assert_serves(handle.url, "iris")
    listing = container.exec_run(["ls", "-ln", MODEL_MOUNT]).output.decode()
    assert "MLmodel" in listing and all(line.split()[2] == "0" for line in listing.splitlines()[1:])
    assert container.exec_run(["touch", f"{MODEL_MOUNT}/x"]).exit_code != 0

    await runtime.stop(handle)
    assert networks_of(docker_client, instance=runtime.instance) == []
    service.reload()
    assert handle.workload_id not in service.attrs["NetworkSettings"]["Networks"]


async def test_the_service_container_must_be_there(make_runtime, service_image, docker_client):
    """A ``service_container`` the engine does not know: refused with what to set, nothing left behind."""
    runtime = make_runtime(publish_host_port=False, service_container="mllab-test-no-such-container")
    web = Workload(id="mllab-s-users-alice-web-4", kind="service", namespace="users/alice", name="web",
                   image=service_image, port=8000)
    with pytest.raises(WorkloadError, match=r"c\.DockerRuntime\.service_container"):
        await runtime.start(web)
    assert networks_of(docker_client, instance=runtime.instance) == []
    assert await runtime.list() == []


def test_the_service_finds_its_own_container(tmp_path):
    """Docker's and podman's ``/etc/hostname`` mounts name the container; outside one, nothing."""
    podman_id, docker_id = "3e1adeea" * 8, "9f0c2b7d" * 8
    for line, expected in [
        (f"95 89 254:0 /run/containers/storage/overlay-containers/{podman_id}/userdata/hostname /etc/hostname rw "
         "- ext4 /dev/vda rw", podman_id),
        (f"520 501 8:1 /var/lib/docker/containers/{docker_id}/hostname /etc/hostname rw,relatime - ext4 /dev/sda1 rw",
         docker_id),
        ("22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw", None),
    ]:
        (tmp_path / "mountinfo").write_text(f"21 1 0:20 / /proc rw - proc proc rw\n{line}\n")
        assert own_container_id(str(tmp_path / "mountinfo")) == expected
    assert own_container_id(str(tmp_path / "missing")) is None
    assert DockerRuntime().service_container == ""  # publishing ports: nobody joins


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


async def test_workloads_reach_each_other_only_through_the_service(make_runtime, service_image, docker_client):
    """bob's job cannot open a connection to alice's service, neither at its address nor at the port
    published on the host's 127.0.0.1, while the service (here: this test, on the host) reaches it
    there; each workload is alone on a labelled network of its own, which goes with it."""
    runtime = make_runtime()
    web = await runtime.start(Workload(id="mllab-s-users-alice-web-5", kind="service", namespace="users/alice",
                                       name="web", image=service_image, port=8000))
    wait_for(lambda: requests.get(web.url, timeout=2).ok, timeout=60, what="alice's service")
    container = docker_client.containers.get(web.ref["container"])
    assert list(container.attrs["NetworkSettings"]["Networks"]) == [web.workload_id]
    alice_ip = container.attrs["NetworkSettings"]["Networks"][web.workload_id]["IPAddress"]
    network = docker_client.networks.get(web.workload_id)
    assert network.attrs["Labels"] == {"org.mllab.role": "deployment", "org.mllab.workload": web.workload_id,
                                       "org.mllab.kind": "service", "org.mllab.namespace": "users/alice",
                                       "org.mllab.name": "web", "org.mllab.instance": runtime.instance}
    assert [c["Name"] for c in network.attrs["Containers"].values()] == [web.workload_id]

    # Something on the host that anyone may reach: the probe can tell open from closed.
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        open_port = listener.getsockname()[1]
        targets = [f"{alice_ip}:8000", f"gateway:{web.ref['host_port']}", f"gateway:{open_port}"]
        started = time.monotonic()
        probe = Workload(id="mllab-j-users-bob-probe-1", kind="job", namespace="users/bob", name="probe",
                         image=service_image, command=["python", "-c", PROBE, *targets])
        job = await runtime.start(probe)
        assert await wait_state(runtime, job, "exited") == State("exited", 0)
        took = time.monotonic() - started
    lines = (await runtime.logs(job)).splitlines()
    assert [line.split()[:2] for line in lines] == [[targets[0], "closed"], [targets[1], "closed"],
                                                   [targets[2], "open"]], lines
    assert took < 20, f"the probe took {took:.0f} s"
    assert requests.get(web.url, timeout=5).ok  # the service's way in still works

    assert networks_of(docker_client, instance=runtime.instance) == sorted([web.workload_id, job.workload_id])
    for handle in (web, job):
        await runtime.stop(handle)
        assert networks_of(docker_client, workload=handle.workload_id) == []
    assert networks_of(docker_client, instance=runtime.instance) == []


async def test_a_network_left_without_its_container_is_removed(make_runtime, service_image, docker_client):
    """A container removed by hand (or a service that died between making the network and the
    container): the runtime's next look at the engine removes the network.  The network all
    workloads shared before this version (no workload label) stays: old workloads still use it."""
    runtime = make_runtime()
    shared = f"{runtime.instance}-shared"
    old_labels = {"org.mllab.role": "deployment", "org.mllab.instance": runtime.instance}
    docker_client.networks.create(shared, labels=old_labels)
    job = await runtime.start(Workload(id="mllab-j-users-alice-etl-3", kind="job", namespace="users/alice",
                                       name="etl", image=service_image, command=["sh", "-c", "exit 0"]))
    assert networks_of(docker_client, workload=job.workload_id) == [job.workload_id]
    docker_client.containers.get(job.ref["container"]).remove(force=True)
    assert await runtime.list() == []
    assert networks_of(docker_client, instance=runtime.instance) == [shared]


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
async def test_missing_image(make_runtime, pull_policy, docker_client):
    """No such image (and none to pull: nothing can be pulled here): refused, nothing left behind."""
    runtime = make_runtime(pull_policy=pull_policy)
    web = Workload(id="mllab-s-users-alice-web-3", kind="service", namespace="users/alice", name="web",
                   image="localhost:9/mllab-test-no-such-image:1", port=8000)
    message = "is not on the container engine" if pull_policy == "never" else "cannot pull image"
    with pytest.raises(WorkloadError, match=message):
        await runtime.start(web)
    assert await runtime.list() == []
    assert networks_of(docker_client, instance=runtime.instance) == []


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
