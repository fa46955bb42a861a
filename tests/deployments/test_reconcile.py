"""Reconcile: after a restart, what runs is compared with the database.

The controller's cases run a second controller (a restarted service) on the same database and
runtime folder, with real processes; the last test restarts a whole hub on its data dir.
"""

from __future__ import annotations

import signal
import sys

from mllab.services.deployments.controller import Controller
from mllab.services.deployments.proxy import Endpoints
from mllab.services.deployments.runtimes.base import Workload
from mllab.services.deployments.store import (
    create_deployment,
    create_job,
    deployment_by_id,
    get_run,
    update_deployment,
)
from mllab.services.deployments.validation import Settings, job_spec, service_spec

from .conftest import HTTP_SERVICE, Lab


def restarted(controller: Controller) -> Controller:
    """A new controller on the same database and runtime: the service after a restart."""
    return Controller(controller.db, controller.runtime, Endpoints(), None, ready_timeout=30,
                      run_poll_interval=0.1)


async def deployed(controller: Controller, name: str = "web"):
    fields = service_spec({"namespace": "users/alice", "name": name, "port": 8000, "command": HTTP_SERVICE},
                          Settings(workspace_backend="local"))
    deployment = await controller.db.run(create_deployment, fields, "alice")
    await controller.bring_up(deployment.id)
    deployment = await controller.db.run(deployment_by_id, deployment.id)
    assert deployment.status == "ready", deployment.message
    return deployment


async def workload_ids(controller: Controller) -> list[str]:
    return sorted(handle.workload_id for handle in await controller.runtime.list())


async def test_adopts_what_still_runs(controller):
    deployment = await deployed(controller)
    before = deployment.handle["workload_id"]
    await controller.close()
    after = restarted(controller)
    await after.reconcile()
    await after.idle()
    deployment = await after.db.run(deployment_by_id, deployment.id)
    assert deployment.status == "ready" and deployment.handle["workload_id"] == before
    assert after.endpoints.get("users/alice", "web").url == deployment.handle["url"]
    assert await workload_ids(after) == [before]
    await after.close()


async def test_starts_what_should_run_but_does_not(controller):
    deployment = await deployed(controller)
    before = deployment.handle["workload_id"]
    await controller.close()
    await controller.runtime.stop(await _handle(controller, before))  # gone while the service was down
    after = restarted(controller)
    await after.reconcile()
    await after.idle()
    deployment = await after.db.run(deployment_by_id, deployment.id)
    assert deployment.status == "ready"
    assert await workload_ids(after) == [deployment.handle["workload_id"]] != [before]
    await after.close()


async def test_stops_what_should_not_run_or_is_unknown(controller):
    kept = await deployed(controller, "kept")
    unwanted = await deployed(controller, "unwanted")
    orphan = await controller.runtime.start(Workload(id="mllab-s-users-alice-orphan-1", kind="service",
                                                     namespace="users/alice", name="orphan",
                                                     command=HTTP_SERVICE, port=8000))
    await controller.close()
    # Stopped by a user, but the service went down before it stopped the workload.
    await controller.db.run(update_deployment, unwanted.id, {"desired": "stopped"})
    after = restarted(controller)
    await after.reconcile()
    await after.idle()
    assert orphan.workload_id not in await workload_ids(after)
    assert await workload_ids(after) == [kept.handle["workload_id"]]
    unwanted = await after.db.run(deployment_by_id, unwanted.id)
    assert (unwanted.status, unwanted.handle) == ("stopped", None)
    assert after.endpoints.get("users/alice", "unwanted").status == "stopped"
    await after.close()


async def test_adopts_a_job_run_in_progress(controller):
    script = "import time; print('working', flush=True); time.sleep(2); print('done', flush=True); raise SystemExit(5)"
    fields = job_spec({"namespace": "users/alice", "name": "etl", "command": [sys.executable, "-c", script]},
                      Settings(workspace_backend="local"))
    job = await controller.db.run(create_job, fields, "alice", None)
    job, run = await controller.jobs.run(job.id)
    await _wait_for_run(controller, job.id, run.number, "running")
    await controller.close()  # the service stops; the run goes on
    after = restarted(controller)
    await after.reconcile()
    await after.idle()
    run = await after.db.run(get_run, job.id, run.number)
    assert (run.status, run.exit_code, run.log) == ("failed", 5, "working\ndone\n")
    assert await workload_ids(after) == []
    await after.close()


async def _handle(controller: Controller, workload_id: str):
    (handle,) = [h for h in await controller.runtime.list() if h.workload_id == workload_id]
    return handle


async def _wait_for_run(controller: Controller, job_id: int, number: int, status: str) -> None:
    import asyncio

    for _ in range(100):
        if (await controller.db.run(get_run, job_id, number)).status == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {number} never became {status}")


def test_hub_restart_serves_again_without_duplicates(make_lab, unique):
    """The whole hub stops, told to leave its servers running (its workloads go on, in sessions
    of their own), and starts again on the same data dir: the deployment is adopted, served
    again, and nothing is duplicated."""
    lab: Lab = make_lab(lines=("c.JupyterHub.cleanup_servers = False",))
    alice = lab.api("alice")
    name = unique("web")
    full_name = f"users/alice/{name}"
    alice.create(namespace="users/alice", name=name, command=HTTP_SERVICE, port=8000)
    alice.wait(full_name, "ready")
    before = lab.workload_ids()
    assert len(before) == 1

    # Stop the hub as an admin would (SIGTERM), not the test harness's way (which reaps every
    # descendant process, the workloads included).
    lab.hub.proc.send_signal(signal.SIGTERM)
    lab.hub.proc.wait(60)
    lab.hub.proc = None
    assert lab.workload_ids() == before
    lab.hub.start()

    assert alice.wait(full_name, "ready")["message"] is None
    answer = alice.endpoint(full_name)
    assert answer.status_code == 200, answer.text
    assert lab.workload_ids() == before
    listed = alice.get("deployments", params={"namespace": "users/alice"}).json()
    assert [d["full_name"] for d in listed["items"]] == [full_name]
