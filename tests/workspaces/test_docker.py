"""The Docker backend end to end: a real hub with DockerSpawner on podman's Docker API.

Workspaces are real containers of ``images/workspace/Dockerfile`` (built here from a local
Debian base), reached through the hub's proxy as a user reaches them. The tests share one hub
(``docker_hub``), each with users of its own, unless they need a hub of their own: one behind a
recording engine socket, one that restarts.
"""

from __future__ import annotations

import json

import pytest

from ..harness import api, spawn, stop_server, wait_for

pytestmark = pytest.mark.slow


def container_of(client, hub, username: str):
    prefix = hub.env["MLLAB_TEST_PREFIX"]
    return client.containers.get(f"{prefix}-{username}")


def run_in(container, code: str) -> str:
    """Run Python ``code`` in the workspace container, as its user; stdout."""
    result = container.exec_run(["python3", "-c", code], user="1000")
    assert result.exit_code == 0, result.output.decode()
    return result.output.decode()


#: Inside a workspace: GET a URL with the workspace's own token, print the status and body.
FETCH = """
import os, sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1] if len(sys.argv) > 1 else URL,
                             headers={"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]})
try:
    with urllib.request.urlopen(req, timeout=20) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
"""


def fetch_inside(container, url_expression: str) -> tuple[int, str]:
    out = run_in(container, f"import os\nURL = {url_expression}\n{FETCH}")
    status, _, body = out.strip().partition(" ")
    return int(status), body


def spawn_profile(hub, token: str, username: str, profile: str) -> None:
    response = api(hub, token, "POST", f"hub/api/users/{username}/server", json={"profile": profile})
    assert response.status_code in (201, 202), response.text
    wait_for(lambda: api(hub, token, "GET", f"hub/api/users/{username}").json()["servers"].get("", {}).get("ready"),
             timeout=180, what=f"{username}'s {profile} workspace")


def test_home_survives_stop_and_start(docker_hub, docker_client):
    hub = docker_hub
    alice, _ = hub.add_user("alice")
    token = alice.new_token()
    spawn(hub, token, "alice", timeout=180)
    written = api(hub, token, "PUT", "user/alice/api/contents/notes.txt",
                  json={"type": "file", "format": "text", "content": "kept across restarts"})
    assert written.status_code in (200, 201), written.text
    first = container_of(docker_client, hub, "alice").id
    stop_server(hub, token, "alice")

    # The container is gone, the home volume is not.
    assert not docker_client.containers.list(all=True, filters={"id": first})
    volume = docker_client.volumes.get(f"{hub.env['MLLAB_TEST_PREFIX']}-home-alice")
    spawn(hub, token, "alice", timeout=180)
    assert container_of(docker_client, hub, "alice").id != first
    read = api(hub, token, "GET", "user/alice/api/contents/notes.txt")
    assert read.status_code == 200, read.text
    assert read.json()["content"] == "kept across restarts"

    # An admin deleting the user deletes the home with it.
    stop_server(hub, token, "alice")
    admin = hub.admin()
    assert admin.api("DELETE", "users/alice").status_code == 204
    wait_for(lambda: not docker_client.volumes.list(filters={"name": volume.name}), timeout=30,
             what="the home volume to be removed")


def test_workspace_reaches_hub_and_services(docker_hub, docker_client):
    """The client inside a workspace works with no configuration: URLs and a token with the user's scopes."""
    hub = docker_hub
    carol, _ = hub.add_user("carol")
    token = carol.new_token()
    spawn(hub, token, "carol", timeout=180)
    try:
        container = container_of(docker_client, hub, "carol")
        assert container.labels["org.mllab.role"] == "workspace"
        assert container.labels["org.mllab.user"] == "carol"
        env = dict(line.split("=", 1) for line in container.attrs["Config"]["Env"])
        assert env["JUPYTERHUB_API_URL"].startswith("http://host.containers.internal:")
        assert env["MLLAB_REGISTRY_URL"] == f"http://host.containers.internal:{hub.port}/services/registry/"

        status, body = fetch_inside(container, 'os.environ["JUPYTERHUB_API_URL"] + "/user"')
        assert status == 200, body
        me = json.loads(body)
        assert me["name"] == "carol"
        assert "custom:datasets:write!user=carol" in me["scopes"]
        assert "custom:models:write!user=carol" in me["scopes"]
        assert not any(s.startswith("admin") for s in me["scopes"])

        status, body = fetch_inside(container, 'os.environ["MLLAB_REGISTRY_URL"] + "api/v1/health"')
        assert status == 200, body
        assert json.loads(body)["service"] == "registry"
    finally:
        stop_server(hub, token, "carol")


def test_users_cannot_reach_each_other(docker_hub, docker_client):
    hub = docker_hub
    frank, _ = hub.add_user("frank")
    gina, _ = hub.add_user("gina")
    frank_token, gina_token = frank.new_token(), gina.new_token()
    spawn(hub, frank_token, "frank", timeout=180)
    spawn(hub, gina_token, "gina", timeout=180)
    try:
        assert api(hub, frank_token, "GET", "user/frank/api/contents").status_code == 200
        assert api(hub, gina_token, "GET", "user/frank/api/contents").status_code == 403

        frank_container = container_of(docker_client, hub, "frank")
        gina_container = container_of(docker_client, hub, "gina")
        network = f"{hub.env['MLLAB_TEST_PREFIX']}-net"
        for container in (frank_container, gina_container):
            assert list(container.attrs["NetworkSettings"]["Networks"]) == [network]
            # The port is exposed on the network, bound to no host port.
            bindings = container.attrs["HostConfig"].get("PortBindings") or {}
            assert not any(bindings.values()), f"workspaces publish no host ports: {bindings}"
        # Straight to frank's container over the shared network, with gina's workspace token: refused.
        frank_ip = frank_container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
        status, _ = fetch_inside(gina_container, f'"http://{frank_ip}:8888/user/frank/api/contents"')
        assert status == 403
    finally:
        stop_server(hub, frank_token, "frank")
        stop_server(hub, gina_token, "gina")


def test_profile_limits_land_in_the_container(make_docker_hub, docker_client, engine_tap):
    """Memory and CPU limits are read back from the engine.  GPUs: podman's Docker API accepts
    device requests but does not keep them, so they are read from the create request the
    engine received (through ``engine_tap``)."""
    hub = make_docker_hub(docker_host_url=engine_tap.url)
    dana, _ = hub.add_user("dana")
    token = dana.new_token()

    page = dana.get(hub.url + "hub/spawn")
    assert page.status_code == 200
    assert 'value="small" checked' in page.text
    assert "Large with GPU" in page.text

    def check_small_profile() -> None:
        host_config = container_of(docker_client, hub, "dana").attrs["HostConfig"]
        assert host_config["Memory"] == 512 * 2**20
        assert host_config["MemoryReservation"] == 256 * 2**20
        assert host_config["CpuQuota"] == 50_000
        assert host_config["CpuPeriod"] == 100_000
        assert not engine_tap.created_containers()[-1]["HostConfig"].get("DeviceRequests"), "small has no GPU"

    spawn(hub, token, "dana", timeout=180)  # no choice: the default profile
    check_small_profile()
    stop_server(hub, token, "dana")

    spawn_profile(hub, token, "dana", "gpu")
    try:
        container = container_of(docker_client, hub, "dana")
        assert container.attrs["HostConfig"]["Memory"] == 2**30
        assert container.attrs["HostConfig"]["CpuQuota"] == 150_000
        assert "MLLAB_TEST_PROFILE=gpu" in container.attrs["Config"]["Env"]
        [request] = engine_tap.created_containers()[-1]["HostConfig"]["DeviceRequests"]
        assert (request["Driver"], request["Count"], request["Capabilities"]) == ("nvidia", 1, [["gpu"]])
    finally:
        stop_server(hub, token, "dana")

    # Back to the small profile: nothing of the GPU profile stays.  (A start without a
    # choice would reuse the last one, as JupyterHub keeps a server's options.)
    spawn_profile(hub, token, "dana", "small")
    try:
        check_small_profile()
        assert "MLLAB_TEST_PROFILE=gpu" not in container_of(docker_client, hub, "dana").attrs["Config"]["Env"]
    finally:
        stop_server(hub, token, "dana")


def test_image_or_resources_outside_profiles_are_refused(docker_hub, docker_client):
    hub = docker_hub
    eve, _ = hub.add_user("eve")
    token = eve.new_token()
    for options, says in [
        ({"image": "docker.io/library/busybox:latest"}, "cannot set image"),
        ({"profile": "small", "mem_limit": "64G"}, "cannot set mem_limit"),
        ({"profile": "huge"}, "No workspace profile 'huge'"),
    ]:
        response = api(hub, token, "POST", "hub/api/users/eve/server", json=options)
        assert response.status_code == 400, response.text
        assert says in response.json()["message"]
    assert not docker_client.containers.list(all=True, filters={"name": f"{hub.env['MLLAB_TEST_PREFIX']}-eve"})


def test_workspace_is_hardened_and_outlives_a_hub_restart(make_docker_hub, docker_client):
    """uid 1000, no capabilities, no privilege escalation, as read back from the engine and from
    inside; a hub restart leaves the container running and reachable."""
    hub = make_docker_hub()
    alice, _ = hub.add_user("alice")
    token = alice.new_token()
    spawn(hub, token, "alice", timeout=180)
    try:
        container = container_of(docker_client, hub, "alice")
        assert container.attrs["Config"]["User"] == "1000:1000"
        host = container.attrs["HostConfig"]
        assert not host["Privileged"]
        assert "no-new-privileges" in " ".join(host.get("SecurityOpt") or [])
        # What the kernel enforces for the workspace's processes (docker says ALL, podman lists them).
        status = container.exec_run(["cat", "/proc/1/status"]).output.decode()
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        assert fields["Uid"].split()[0] == "1000"
        assert int(fields["CapEff"], 16) == 0 and int(fields["CapBnd"], 16) == 0, fields["CapBnd"]
        assert fields["NoNewPrivs"].strip() == "1"

        hub.restart()
        assert container_of(docker_client, hub, "alice").id == container.id
        assert docker_client.containers.get(container.id).status == "running"
        wait_for(lambda: api(hub, token, "GET", "user/alice/api/contents").status_code == 200, timeout=60,
                 what="alice's workspace reachable again through the restarted hub")
    finally:
        stop_server(hub, token, "alice")


def test_the_hub_checks_the_engine_of_workspaces(docker_hub, docker_client):
    """``mllab doctor``'s workspace engine line: the hub asks the engine its workspaces run on."""
    hub = docker_hub
    token = hub.admin().new_token()
    response = api(hub, token, "GET", "hub/api/mllab/users/admin/workspace-engine")
    assert response.status_code == 200, response.text
    version = docker_client.version()
    assert response.json() == {"name": "workspace engine", "ok": True,
                               "detail": f"Docker API {version['ApiVersion']} ({version['Version']})"}
