"""Crash drill for the deployments service: SIGKILL (the service alone, or the whole ``mllab up``
process group) while model deployments start and while one rolls out.

Model servers run in sessions of their own, so they outlive the kill.  After the restart every
deployment settles (ready, or failed with a message: never stuck pending or starting), and the
model-server processes on the machine (seen with psutil) are exactly one per ready deployment:
nothing runs that the service does not account for.

The kills land at known points: the model versions are `gated_model`s, whose servers start but
are not ready until the test opens their gate, so the test knows a server has not answered (and a
rollout has not switched) when it kills.  Each version answers a class of its own, which tells
the version a deployment serves.
"""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from ..harness import kill_service, wait_for
from . import gated_model

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
def test_kill_while_deploying_and_rolling_out_settles(make_model_lab, kill, tmp_path):
    lab = make_model_lab()
    alice = lab.lab.api("alice")
    gates = {version: tmp_path / f"gate-{version}" for version in (1, 2)}
    model = lab.register("iris", folder=gated_model.save(tmp_path / "iris-1", gates[1], answer=1))

    # One deployment whose model server has started and cannot answer yet (gate 1 shut), one just asked for.
    alice.create(model=model, name="iris")
    wait_for(lambda: lab.workloads_of("iris") and alice.get("deployments/users/alice/iris").json()["status"]
             == "starting", timeout=120, interval=0.1, what="iris's model server to start")
    [first] = lab.workloads_of("iris")
    alice.create(model=model, name="iris-early")
    kill(lab.hub)
    gates[1].touch()

    settled = check_accounted_for(lab)
    assert {name: (d["status"], d["model_version"]) for name, d in settled.items()} == {
        "iris": ("ready", 1), "iris-early": ("ready", 1)}
    assert lab.workloads_of("iris") == {first}, "the starting model server is adopted, not started again"
    assert lab.predict("users/alice/iris") == lab.predict("users/alice/iris-early") == [1, 1, 1]

    # A rollout to version 2, killed while version 2's model server runs beside version 1's and
    # cannot be ready (gate 2 shut): the switch has not happened.
    lab.register("iris", folder=gated_model.save(tmp_path / "iris-2", gates[2], answer=2))
    rolling = alice.post("deployments/users/alice/iris/rollout")
    assert rolling.status_code == 200, rolling.text
    wait_for(lambda: len(lab.workloads_of("iris")) == 2, timeout=120, interval=0.1,
             what="version 2's model server beside version 1's")
    during = alice.get("deployments/users/alice/iris").json()
    assert (during["status"], during["model_version"], during["message"]) == (
        "starting", 1, "Rolling out version 2; version 1 serves meanwhile.")
    kill(lab.hub)

    # The rollout dies with the service: version 1 serves on, and version 2's server is stopped.
    settled = check_accounted_for(lab)
    assert (settled["iris"]["status"], settled["iris"]["model_version"]) == ("ready", 1)
    assert lab.workloads_of("iris") == {first}
    assert lab.predict("users/alice/iris") == [1, 1, 1]
    aliases = alice.get(f"{lab.hub.url}services/registry/api/v1/models/users/alice/iris").json()["aliases"]
    assert aliases["production"] == 2, "the alias the rollout followed stays where the user put it"

    # Asked again, with version 2 able to start, the rollout switches to it.
    gates[2].touch()
    rolling = alice.post("deployments/users/alice/iris/rollout")
    assert rolling.status_code == 200, rolling.text
    done = lab.wait_settled("users/alice/iris")
    assert (done["status"], done["model_version"], done["message"]) == ("ready", 2, None)
    assert lab.predict("users/alice/iris") == [2, 2, 2]
    wait_for(lambda: len(lab.workloads_of("iris")) == 1 and first not in lab.workloads_of("iris"),
             timeout=60, what="version 1's model server to stop after the switch")
