"""The deployments REST API on a real hub, local runtime: create, operate and delete deployments.

A service (Python's ``http.server`` on ``$PORT``) is deployed, reached through its platform
URL, stopped, started, restarted, rolled out under load, killed, and deleted; a model is
registered, deployed from its alias, and rolled out after the alias moves.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from ..harness import wait_for
from ..registry.helpers import Registry
from .conftest import HTTP_SERVICE, DeploymentsAPI, Lab, mlflow_request


def service(namespace: str, name: str, **extra) -> dict:
    return {"namespace": namespace, "name": name, "command": HTTP_SERVICE, "port": 8000, **extra}


def served(alice: DeploymentsAPI, full_name: str) -> bool:
    answer = alice.endpoint(full_name)
    return answer.status_code == 200 and "Directory listing" in answer.text


def test_service_lifecycle(lab: Lab, unique):
    alice = lab.api("alice")
    name = unique("web")
    full_name = f"users/alice/{name}"
    created = alice.create(**service("users/alice", name, env={"GREETING": "hi"}))
    assert created["status"] == "pending" and created["desired"] == "running"
    assert created["kind"] == "service" and created["model"] is None and created["created_by"] == "alice"
    assert created["url"] == f"/services/deployments/endpoints/{full_name}/"
    assert created["command"] == HTTP_SERVICE and created["env"] == {"GREETING": "hi"} and created["replicas"] == 1

    ready = alice.wait(full_name, "ready")
    assert ready["message"] is None
    assert served(alice, full_name)
    assert alice.endpoint(full_name, "nothing-here").status_code == 404  # the service's own 404, forwarded
    (workload,) = lab.workload_ids(f"mllab-s-users-alice-{name}-")
    assert "GET / HTTP/1.1" in alice.get(f"deployments/{full_name}/logs").text
    with alice.get(f"deployments/{full_name}/logs", params={"follow": "1"}, stream=True) as answer:
        assert answer.status_code == 200  # streams until the client goes
        assert "GET / HTTP/1.1" in next(answer.iter_content(chunk_size=None, decode_unicode=True))

    listed = alice.get("deployments", params={"namespace": "users/alice"}).json()
    assert full_name in [d["full_name"] for d in listed["items"]]
    assert listed["limit"] == 50 and listed["next"] is None
    assert alice.post("deployments", json=service("users/alice", name)).status_code == 409

    stopped = alice.post(f"deployments/{full_name}/stop")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "stopped" and stopped.json()["desired"] == "stopped"
    assert lab.workload_ids(f"mllab-s-users-alice-{name}-") == set()
    assert alice.endpoint(full_name).status_code == 503

    started = alice.post(f"deployments/{full_name}/start")
    assert started.status_code == 200 and started.json()["desired"] == "running"
    alice.wait(full_name, "ready")
    assert served(alice, full_name)

    restarted = alice.post(f"deployments/{full_name}/restart")
    assert restarted.status_code == 200
    alice.wait(full_name, "ready")
    (new_workload,) = lab.workload_ids(f"mllab-s-users-alice-{name}-")
    assert new_workload != workload

    assert alice.delete(f"deployments/{full_name}").status_code == 204
    assert alice.get(f"deployments/{full_name}").status_code == 404
    assert alice.endpoint(full_name).status_code == 404
    assert lab.workload_ids(f"mllab-s-users-alice-{name}-") == set()


def test_rollout_fails_no_request(lab: Lab, unique):
    """A rollout starts the new workload, switches, then stops the old: a client loop sees no failure."""
    alice = lab.api("alice")
    full_name = f"users/alice/{unique('roll')}"
    alice.create(**service(*full_name.rsplit("/", 1)))
    alice.wait(full_name, "ready")
    (old,) = lab.workload_ids("mllab-s-" + full_name.replace("/", "-") + "-")
    failures: list[str] = []
    done = threading.Event()
    sent = 0

    def load() -> None:
        nonlocal sent
        with requests.Session() as session:
            while not done.is_set():
                answer = session.get(lab.hub.url + f"services/deployments/endpoints/{full_name}/",
                                     headers={"Authorization": f"token {alice.token}"}, timeout=30)
                sent += 1
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")

    thread = threading.Thread(target=load)
    thread.start()
    try:
        wait_for(lambda: sent >= 5, what="requests before the rollout")
        answer = alice.post(f"deployments/{full_name}/rollout")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "starting"
        alice.wait(full_name, "ready", what=lambda d: d["message"] is None)
        wait_for(lambda: lab.workload_ids("mllab-s-" + full_name.replace("/", "-") + "-") != {old},
                 what="the new workload")
        wait_for(lambda: len(lab.workload_ids("mllab-s-" + full_name.replace("/", "-") + "-")) == 1,
                 what="the old workload to stop")
        after = sent
        wait_for(lambda: sent >= after + 5, what="requests after the switch")
    finally:
        done.set()
        thread.join()
    assert failures == []
    assert sent > 10
    assert old not in lab.workload_ids()
    alice.delete(f"deployments/{full_name}")


def test_killed_runtime_fails_and_restart_brings_it_back(lab: Lab, unique):
    alice = lab.api("alice")
    full_name = f"users/alice/{unique('kill')}"
    alice.create(**service(*full_name.rsplit("/", 1)))
    alice.wait(full_name, "ready")
    (handle,) = [h for h in lab.workloads() if h.workload_id.startswith("mllab-s-" + full_name.replace("/", "-"))]
    os.killpg(handle.ref["pid"], signal.SIGKILL)
    failed = alice.wait(full_name, "failed", timeout=30)
    assert failed["desired"] == "running" and "the runtime stopped" in failed["message"]
    assert alice.endpoint(full_name).status_code == 503
    assert alice.post(f"deployments/{full_name}/restart").status_code == 200
    alice.wait(full_name, "ready")
    assert served(alice, full_name)
    alice.delete(f"deployments/{full_name}")


def test_last_access_and_idle_stop(lab: Lab, unique):
    alice = lab.api("alice")
    full_name = f"users/alice/{unique('idle')}"
    created = alice.create(**service(*full_name.rsplit("/", 1), idle_timeout=4))
    assert created["idle_timeout"] == 4 and created["last_access"] is None
    alice.wait(full_name, "ready")
    assert served(alice, full_name)
    accessed = wait_for(lambda: alice.get(f"deployments/{full_name}").json()["last_access"], timeout=10,
                        what="last_access")
    assert accessed.endswith("Z")
    stopped = alice.wait(full_name, "stopped", timeout=30)
    assert stopped["desired"] == "stopped" and "without requests" in stopped["message"]
    assert lab.workload_ids("mllab-s-" + full_name.replace("/", "-")) == set()
    alice.delete(f"deployments/{full_name}")


def test_failed_service_keeps_its_output(lab: Lab, unique):
    alice = lab.api("alice")
    full_name = f"users/alice/{unique('bad')}"
    alice.create(namespace="users/alice", name=full_name.rsplit("/", 1)[1], port=8000,
                 command=["sh", "-c", "echo cannot serve; exit 7"])
    failed = alice.wait(full_name, "failed")
    assert "exited with code 7" in failed["message"] and "cannot serve" in failed["message"]
    assert "cannot serve" in alice.get(f"deployments/{full_name}/logs").text
    assert alice.delete(f"deployments/{full_name}").status_code == 204
    assert lab.workload_ids("mllab-s-" + full_name.replace("/", "-")) == set()


def test_model_from_alias_and_rollout(lab: Lab, unique, sklearn_model):
    """A model registered in the registry, deployed from its alias, rolled out when the alias moves."""
    session = lab.users["alice"][0]
    token = session.new_token()
    registry, alice = Registry(lab.hub, token), DeploymentsAPI(lab.hub, token)
    name = unique("iris")
    files = {str(p.relative_to(sklearn_model.path)): p.read_bytes()
             for p in Path(sklearn_model.path).rglob("*") if p.is_file()}
    for _ in range(2):
        version, _sent = registry.push(f"users/alice/{name}", {**files, "n": os.urandom(8)}, kind="models")
    assert version["number"] == 2
    registry.call("PUT", f"models/users/alice/{name}/aliases/production", json={"version": 1})

    created = alice.create(model=f"users/alice/{name}@production")
    assert created["kind"] == "model" and created["model_version"] == 1 and created["name"] == name
    full_name = created["full_name"]
    alice.wait(full_name, "ready")
    assert alice.endpoint(full_name, "v2/health/ready").status_code == 200
    answer = alice.endpoint(full_name, "invocations", method="POST", json=mlflow_request(sklearn_model))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": sklearn_model.expected}
    cache = Path(lab.hub.data_dir) / "deployments" / "models" / "users" / "alice" / name / "1"
    assert (cache / "MLmodel").is_file()

    registry.call("PUT", f"models/users/alice/{name}/aliases/production", json={"version": 2})
    assert alice.post(f"deployments/{full_name}/rollout").status_code == 200
    rolled = alice.wait(full_name, "ready", what=lambda d: d["model_version"] == 2)
    assert rolled["message"] is None
    assert alice.endpoint(full_name, "v2/health/ready").status_code == 200
    # The old version goes once the requests sent to it had their time to finish (rollout_drain).
    wait_for(lambda: len(lab.workload_ids("mllab-m-" + full_name.replace("/", "-"))) == 1, timeout=20,
             what="the old version to stop")
    alice.delete(f"deployments/{full_name}")


def test_model_of_another_user_is_refused(lab: Lab, unique):
    """Deploying needs read on the model: bob may not deploy alice's model into his namespace."""
    bob = lab.api("bob")
    name = unique("private")
    answer = bob.post("deployments", json={"model": f"users/alice/{name}@production", "namespace": "users/bob"})
    assert answer.status_code == 403, answer.text
    assert "custom:models:read" in answer.json()["message"]
    assert bob.get(f"deployments/users/bob/{name}").status_code == 404


@pytest.mark.parametrize("action", ["stop", "delete", "restart"])
def test_operations_cut_a_start_short(lab: Lab, unique, action):
    """A deployment that never becomes ready does not hold up stop, delete or restart until its timeout."""
    alice = lab.api("alice")
    name = unique("slow")
    full_name = f"users/alice/{name}"
    alice.create(namespace="users/alice", name=name, port=8000, command=["sleep", "300"])
    alice.wait(full_name, "starting")
    started = time.monotonic()
    if action == "delete":
        assert alice.delete(f"deployments/{full_name}").status_code == 204
    else:
        answer = alice.post(f"deployments/{full_name}/{action}")
        assert answer.status_code == 200, answer.text
    assert time.monotonic() - started < 15
    if action == "restart":
        wait_for(lambda: alice.get(f"deployments/{full_name}").json()["status"] == "starting", what="the new start")
        assert len(lab.workload_ids(f"mllab-s-users-alice-{name}-")) == 1  # the old one went first
        alice.post(f"deployments/{full_name}/stop")
    if action == "stop":
        assert alice.get(f"deployments/{full_name}").json()["status"] == "stopped"
    assert lab.workload_ids(f"mllab-s-users-alice-{name}-") == set()
    alice.delete(f"deployments/{full_name}")
