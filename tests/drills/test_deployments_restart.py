"""Restart drill for the deployments service: ``mllab up`` stopped (SIGTERM) and started again on
the same data dir, told to leave its servers running (``JupyterHub.cleanup_servers = False``, as
for an upgrade; stopped for good it stops them: tests/deployments/test_local_shutdown.py).  A
ready model deployment serves again with the same answers, a stopped one stays stopped, and a
job keeps its schedule."""

from __future__ import annotations

import signal
import sys

import pytest

pytestmark = pytest.mark.slow

#: Spec fields a restart must keep as they were.
SPEC = ("kind", "model", "model_version", "image", "command", "env", "port", "resources", "replicas",
        "desired", "url", "created_at", "created_by", "idle_timeout")


def sigterm_restart(hub) -> None:
    """Stop ``mllab up`` as an admin would (SIGTERM; told to leave its servers running, its
    workloads, in sessions of their own, go on) and start it on the same data dir."""
    hub.proc.send_signal(signal.SIGTERM)
    hub.proc.wait(60)
    hub.proc = None
    hub.start()


def test_deployments_and_schedules_pull_back_after_a_restart(make_model_lab):
    lab = make_model_lab("c.JupyterHub.cleanup_servers = False")
    alice = lab.lab.api("alice")
    model = lab.register("iris")
    alice.create(model=model, name="iris", env={"MODE": "drill"}, resources={"cpu_limit": 1.5})
    alice.create(model=model, name="iris-off")
    served = alice.wait("users/alice/iris", "ready", timeout=180)
    alice.wait("users/alice/iris-off", "ready", timeout=180)
    assert alice.post("deployments/users/alice/iris-off/stop").json()["status"] == "stopped"
    answers = lab.predict("users/alice/iris")
    assert answers == lab.model.expected
    workloads = lab.workloads_of("iris")
    assert len(workloads) == 1 and lab.workloads_of("iris-off") == set()

    job = {"namespace": "users/alice", "name": "nightly", "command": [sys.executable, "-c", "print('etl')"],
           "schedule": "0 3 * * *"}
    created = alice.post("jobs", json=job)
    assert created.status_code == 201, created.text
    before = {d["name"]: d for d in alice.get("deployments", params={"namespace": "users/alice"}).json()["items"]}

    sigterm_restart(lab.hub)

    after = {d["name"]: d for d in alice.get("deployments", params={"namespace": "users/alice"}).json()["items"]}
    assert sorted(after) == ["iris", "iris-off"]
    for name in after:
        assert {k: after[name][k] for k in SPEC} == {k: before[name][k] for k in SPEC}, name
    assert alice.wait("users/alice/iris", "ready", timeout=180)["model_version"] == served["model_version"]
    assert lab.predict("users/alice/iris") == answers
    assert lab.workloads_of("iris") == workloads, "the running model server is adopted, not started twice"

    off = alice.get("deployments/users/alice/iris-off").json()
    assert (off["status"], off["desired"]) == ("stopped", "stopped")
    assert lab.workloads_of("iris-off") == set()
    assert alice.endpoint("users/alice/iris-off", "invocations", method="POST", json={}).status_code == 503

    kept = alice.get("jobs/users/alice/nightly").json()
    assert (kept["schedule"], kept["next_run"], kept["runs"]) == ("0 3 * * *", created.json()["next_run"], [])
