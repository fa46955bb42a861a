"""Crash drill for the deployments service: SIGKILL (the service alone, or the whole ``mllab up``
process group) while model deployments start and while one rolls out.

Model servers run in sessions of their own, so they outlive the kill.  After the restart every
deployment settles (ready, or failed with a message: never stuck pending or starting), and the
model-server processes on the machine (seen with psutil) are exactly one per ready deployment:
nothing runs that the service does not account for.
"""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from ..harness import kill_service, wait_for

pytestmark = pytest.mark.slow

API = "services/deployments/api/v1/"


def kill_deployments(hub) -> None:
    """SIGKILL the deployments service; the hub starts it again."""
    kill_service(hub, "mllab.services.deployments", API + "health", timeout=180)


def kill_process_group(hub) -> None:
    """SIGKILL ``mllab up`` and its process group, then start it again: the proxy and the managed
    services it started in sessions of their own do not outlive it (the next start finds the
    port free, and no service of the killed hub runs beside the new one's)."""
    os.killpg(hub.proc.pid, signal.SIGKILL)
    hub.proc.wait(10)
    hub.proc = None
    hub.start()
    wait_for(lambda: not left_behind(hub), timeout=30, what=f"the killed hub's processes to end: {left_behind(hub)}")


def left_behind(hub) -> list[str]:
    """Processes in the hub's folder (proxy, services) that are not the running hub's own."""
    own = {hub.proc.pid, *(p.pid for p in psutil.Process(hub.proc.pid).children(recursive=True))}
    folder = str(hub.data_dir.parent.absolute())
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid not in own and process.cwd() == folder and process.status() != psutil.STATUS_ZOMBIE:
                found.append(" ".join(process.cmdline()[:3]))
        except psutil.Error:
            continue
    return found


def check_accounted_for(lab) -> dict[str, dict]:
    """Every deployment settled; exactly one live workload per ready one, none for the others."""
    alice = lab.lab.api("alice")
    names = [d["name"] for d in alice.get("deployments", params={"namespace": "users/alice"}).json()["items"]]
    settled = {name: lab.wait_settled(f"users/alice/{name}") for name in names}
    for name, deployment in settled.items():
        assert deployment["status"] == "ready" or deployment["message"], f"{name} {deployment['status']} says why"

    def one_each() -> bool:
        return {w: name for name in names for w in lab.workloads_of(name)}.keys() == lab.processes().keys() and all(
            len(lab.workloads_of(name)) == (settled[name]["status"] == "ready") for name in names)

    wait_for(one_each, timeout=60, what=f"one model server per ready deployment: {lab.processes()}")
    return settled


@pytest.mark.parametrize("kill", [kill_deployments, kill_process_group], ids=["service", "process-group"])
def test_kill_while_deploying_and_rolling_out_settles(make_model_lab, kill):
    lab = make_model_lab()
    alice = lab.lab.api("alice")
    model = lab.register("iris")

    # One deployment whose model server has started but does not answer yet, one just asked for.
    alice.create(model=model, name="iris")
    wait_for(lambda: lab.workloads_of("iris") and alice.get("deployments/users/alice/iris").json()["status"]
             == "starting", timeout=120, interval=0.1, what="iris's model server to start")
    alice.create(model=model, name="iris-early")
    kill(lab.hub)

    settled = check_accounted_for(lab)
    assert {name: d["status"] for name, d in settled.items()} == {"iris": "ready", "iris-early": "ready"}
    assert lab.predict("users/alice/iris") == lab.predict("users/alice/iris-early") == lab.model.expected

    # A rollout to version 2, killed once the new model server runs beside the old one.
    lab.register("iris", note="version 2")
    rolling = alice.post("deployments/users/alice/iris/rollout")
    assert rolling.status_code == 200, rolling.text
    wait_for(lambda: len(lab.workloads_of("iris")) == 2, timeout=120, interval=0.1,
             what="the new model server beside the old one")
    kill(lab.hub)

    settled = check_accounted_for(lab)
    assert settled["iris"]["status"] == "ready"
    assert settled["iris"]["model_version"] in (1, 2)
    assert lab.predict("users/alice/iris") == lab.model.expected
