"""Deployments on the Docker runtime reach each other only through the platform (issue 16, hole 5).

bob's job cannot open a connection to alice's service container at its address, while alice's
endpoint answers through the hub's proxy; deleting them leaves no network behind.  That bob's
token is refused (403) on alice's endpoint is ``test_security.test_route_refuses`` ("another
user", on every ``/endpoints/...`` route): the check is the proxy's, the same on every runtime.
"""

from __future__ import annotations

import pytest

from ..harness import wait_for
from .test_runtime_docker import PROBE

pytestmark = pytest.mark.slow


def test_bobs_job_cannot_reach_alices_service(docker_lab, service_image, docker_client):
    lab = docker_lab
    alice, bob = lab.api("alice"), lab.api("bob")
    web = alice.create(namespace="users/alice", name="web", image=service_image, port=8000)
    alice.wait(web["full_name"], "ready", timeout=120)
    ours = {"label": ["org.mllab.namespace=users/alice", "org.mllab.name=web", f"org.mllab.instance={lab.instance}"]}
    (container,) = docker_client.containers.list(filters=ours)
    (address,) = [network["IPAddress"] for network in container.attrs["NetworkSettings"]["Networks"].values()]

    probe = {"namespace": "users/bob", "name": "probe", "image": service_image,
             "command": ["python", "-c", PROBE, f"{address}:8000"]}
    assert bob.post("jobs", json=probe).status_code == 201
    assert bob.wait_run("users/bob/probe", 1)["status"] == "succeeded"
    log = bob.get("jobs/users/bob/probe/runs/1/logs").text
    assert log.split()[:2] == [f"{address}:8000", "closed"], log
    answer = alice.endpoint(web["full_name"], "")
    assert answer.status_code == 200, answer.text

    assert alice.delete(f"deployments/{web['full_name']}").status_code == 204
    assert bob.delete("jobs/users/bob/probe").status_code == 204
    networks = {"label": f"org.mllab.instance={lab.instance}"}
    wait_for(lambda: docker_client.networks.list(filters=networks) == [], timeout=30, what="no networks left")
