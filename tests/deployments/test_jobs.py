"""Jobs: run to completion with an exit status and a log, run again, cancel, delete; cron schedules.

The REST tests run on a real hub with the local runtime.  The schedule test drives the
controller's scheduler with its clock moved to the job's next run (a real ``* * * * *``
would make the test wait up to a minute), on real processes and PostgreSQL.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

from mllab.services.deployments.store import create_job, get_job, job_runs
from mllab.services.deployments.validation import Settings, job_spec
from mllab.services.deployments.workloads import next_cron_time
from mllab.services.paging import PageRequest

from ..harness import wait_for
from .conftest import Lab

EXIT_3 = [sys.executable, "-c", "print('hello from the job', flush=True); raise SystemExit(3)"]
SLEEP = [sys.executable, "-c", "import time; print('sleeping', flush=True); time.sleep(300)"]


def test_job_exit_status_and_log(lab: Lab, unique):
    alice = lab.api("alice")
    name = unique("etl")
    job = f"users/alice/{name}"
    created = alice.post("jobs", json={"namespace": "users/alice", "name": name, "command": EXIT_3,
                                       "env": {"STAGE": "test"}})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["full_name"] == job and body["schedule"] is None and body["next_run"] is None
    assert [run["number"] for run in body["runs"]] == [1] and body["runs"][0]["trigger"] == "manual"

    run = alice.wait_run(job, 1)
    assert run["status"] == "failed" and run["exit_code"] == 3 and run["job"] == job
    assert run["started_at"] and run["finished_at"]
    assert alice.get(f"jobs/{job}/runs/1/logs").text == "hello from the job\n"
    assert lab.workload_ids("mllab-j-users-alice-" + name) == set()  # over: its workload is removed

    again = alice.post(f"jobs/{job}/runs")
    assert again.status_code == 201 and again.json()["number"] == 2
    assert alice.wait_run(job, 2)["exit_code"] == 3
    runs = alice.get(f"jobs/{job}/runs").json()
    assert [r["number"] for r in runs["items"]] == [2, 1] and runs["next"] is None
    assert [r["number"] for r in alice.get(f"jobs/{job}").json()["runs"]] == [2, 1]
    newest = alice.get(f"jobs/{job}/runs", params={"limit": 1}).json()
    after = alice.get(f"jobs/{job}/runs", params={"limit": 1, "after": newest["next"]}).json()
    assert [r["number"] for r in newest["items"] + after["items"]] == [2, 1] and after["next"] is None
    assert alice.get(f"jobs/{job}/runs/1/logs", params={"tail": 1}).text == "hello from the job\n"
    listed = alice.get("jobs", params={"namespace": "users/alice"}).json()["items"]
    assert job in [j["full_name"] for j in listed]

    assert alice.delete(f"jobs/{job}").status_code == 204
    assert alice.get(f"jobs/{job}").status_code == 404
    assert alice.get(f"jobs/{job}/runs/1").status_code == 404


def test_successful_job(lab: Lab, unique):
    alice = lab.api("alice")
    name = unique("ok")
    command = [sys.executable, "-c", "import os; print(os.environ['STAGE'])"]
    assert alice.post("jobs", json={"namespace": "users/alice", "name": name, "command": command,
                                    "env": {"STAGE": "prod"}}).status_code == 201
    run = alice.wait_run(f"users/alice/{name}", 1)
    assert run["status"] == "succeeded" and run["exit_code"] == 0
    assert alice.get(f"jobs/users/alice/{name}/runs/1/logs").text == "prod\n"
    alice.delete(f"jobs/users/alice/{name}")


def test_cancel_and_delete_running(lab: Lab, unique):
    alice = lab.api("alice")
    name = unique("long")
    job = f"users/alice/{name}"
    assert alice.post("jobs", json={"namespace": "users/alice", "name": name, "command": SLEEP}).status_code == 201
    wait_for(lambda: alice.get(f"jobs/{job}/runs/1").json()["status"] == "running", what="the run to start")
    wait_for(lambda: "sleeping" in alice.get(f"jobs/{job}/runs/1/logs").text, what="the run's output")
    assert len(lab.workload_ids("mllab-j-users-alice-" + name)) == 1

    cancelled = alice.post(f"jobs/{job}/runs/1/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["finished_at"]
    assert lab.workload_ids("mllab-j-users-alice-" + name) == set()
    assert alice.get(f"jobs/{job}/runs/1/logs").text == "sleeping\n"
    # Cancelling again changes nothing.
    assert alice.post(f"jobs/{job}/runs/1/cancel").json()["status"] == "cancelled"

    assert alice.post(f"jobs/{job}/runs").status_code == 201
    wait_for(lambda: alice.get(f"jobs/{job}/runs/2").json()["status"] == "running", what="run 2 to start")
    assert alice.delete(f"jobs/{job}").status_code == 204
    assert lab.workload_ids("mllab-j-users-alice-" + name) == set()


def test_scheduled_job_shows_next_run(lab: Lab, unique):
    alice = lab.api("alice")
    name = unique("cron")
    created = alice.post("jobs", json={"namespace": "users/alice", "name": name, "command": EXIT_3,
                                       "schedule": "0  3 * * *"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["schedule"] == "0 3 * * *" and body["runs"] == []  # scheduled: no run now
    next_run = datetime.fromisoformat(body["next_run"].rstrip("Z"))
    assert (next_run.hour, next_run.minute) == (3, 0) and next_run - datetime.utcnow() <= timedelta(days=1)
    alice.delete(f"jobs/users/alice/{name}")


async def test_due_job_runs_on_schedule(controller):
    """Every minute: not before its time, once when it comes, then again a minute later."""
    start = datetime(2030, 1, 1, 12, 0, 30)
    fields = job_spec({"namespace": "users/alice", "name": "tick", "command": EXIT_3, "schedule": "* * * * *"},
                      Settings(workspace_backend="local"))
    job = await controller.db.run(create_job, fields, "alice", next_cron_time("* * * * *", start))
    assert job.next_run == datetime(2030, 1, 1, 12, 1)

    assert await controller.jobs.run_schedules(now=datetime(2030, 1, 1, 12, 0, 59)) == []
    (run,) = await controller.jobs.run_schedules(now=datetime(2030, 1, 1, 12, 1, 0, 500))
    assert run.number == 1 and run.trigger == "schedule"
    assert await controller.jobs.run_schedules(now=datetime(2030, 1, 1, 12, 1, 30)) == []  # once per time
    job = await controller.db.run(get_job, "users/alice", "tick")
    assert job.next_run == datetime(2030, 1, 1, 12, 2)

    await controller.idle()
    runs = (await controller.db.run(job_runs, job.id, PageRequest(10))).rows
    assert len(runs) == 1 and (runs[0].status, runs[0].exit_code, runs[0].log) == ("failed", 3, "hello from the job\n")

    # The service was down for an hour: one run, not sixty, and the schedule goes on from now.
    (late,) = await controller.jobs.run_schedules(now=datetime(2030, 1, 1, 13, 2, 10))
    assert late.number == 2
    job = await controller.db.run(get_job, "users/alice", "tick")
    assert job.next_run == datetime(2030, 1, 1, 13, 3)
    await controller.idle()


def test_follow_a_run_log(lab: Lab, unique):
    """``?follow=1`` streams the output while the run goes on, and ends with it."""
    alice = lab.api("alice")
    name = unique("follow")
    script = "import time\nfor i in range(5):\n    print('line', i, flush=True)\n    time.sleep(0.3)"
    assert alice.post("jobs", json={"namespace": "users/alice", "name": name, "command": [sys.executable, "-c", script]}
                      ).status_code == 201
    wait_for(lambda: alice.get(f"jobs/users/alice/{name}/runs/1").json()["status"] != "pending", what="the start")
    with alice.get(f"jobs/users/alice/{name}/runs/1/logs", params={"follow": "1"}, stream=True) as answer:
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
        text = "".join(answer.iter_content(chunk_size=None, decode_unicode=True))
    assert text == "".join(f"line {i}\n" for i in range(5))
    assert alice.wait_run(f"users/alice/{name}", 1)["status"] == "succeeded"
    alice.delete(f"jobs/users/alice/{name}")


async def test_cancel_while_starting(controller):
    """A run cancelled before its workload has started is stopped as soon as it has: nothing stays."""
    fields = job_spec({"namespace": "users/alice", "name": "early", "command": SLEEP},
                      Settings(workspace_backend="local"))
    job = await controller.db.run(create_job, fields, "alice", None)
    job, run = await controller.jobs.run(job.id)
    assert run.status == "pending"
    cancelled = await controller.jobs.cancel(job, run)
    assert cancelled.status == "cancelled"
    await controller.idle()
    runs = (await controller.db.run(job_runs, job.id, PageRequest(10))).rows
    assert [(r.status, r.handle) for r in runs] == [("cancelled", None)]
    assert await controller.runtime.list() == []
