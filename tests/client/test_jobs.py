"""``client.jobs`` against the recording HTTP server (`fake_service`): requests sent, answers read."""

from __future__ import annotations

import time

import pytest
from mllab.client.deployments import DeploymentFailed, SpecError

from .fake_service import API, Answer

JOB = API + "jobs/users/alice/etl"


def run(number: int = 1, status: str = "running", exit_code: int | None = None, trigger: str = "manual") -> dict:
    """A Run as API.md describes it."""
    return {"job": "users/alice/etl", "number": number, "status": status, "exit_code": exit_code, "trigger": trigger,
            "message": None, "created_at": "2026-01-02T03:04:05Z", "started_at": "2026-01-02T03:04:06Z",
            "finished_at": None}


def job(runs: list[dict] | None = None, **extra) -> dict:
    return {"namespace": "users/alice", "name": "etl", "full_name": "users/alice/etl", "image": None,
            "command": ["python", "etl.py"], "env": {}, "resources": {}, "schedule": None, "next_run": None,
            "created_at": "2026-01-02T03:04:05Z", "created_by": "alice", "runs": runs or [], **extra}


def page(items: list[dict]) -> dict:
    return {"items": items, "limit": 50, "next": None}


def test_run_with_a_command_creates_the_job_and_answers_its_first_run(fake, client):
    fake.on("POST", API + "jobs", Answer(201, job([run()])))
    started = client.jobs.run("etl", "python etl.py --day '2026-01-02'", env={"STAGE": "prod"}, cpu=2)
    assert started == run()
    [sent] = fake.sent()
    assert sent.body == {"namespace": "users/alice", "name": "etl", "command": ["python", "etl.py", "--day",
                                                                                "2026-01-02"],
                         "env": {"STAGE": "prod"}, "resources": {"cpu_limit": 2}}


def test_run_asks_for_the_first_run_when_the_created_job_lists_none(fake, client):
    fake.on("POST", API + "jobs", Answer(201, job([])))
    fake.on("GET", JOB + "/runs", Answer(body=page([run()])))
    assert client.jobs.run("etl", image="ghcr.io/acme/etl:1")["number"] == 1
    assert fake.sent()[1].params == {"limit": "1"}


def test_run_an_existing_job_again(fake, client):
    fake.on("POST", JOB + "/runs", Answer(201, run(2)))
    assert client.jobs.run("etl")["number"] == 2
    assert [(r.method, r.path, r.body) for r in fake.sent()] == [("POST", JOB + "/runs", None)]
    with pytest.raises(SpecError, match="env, memory describe a new job"):
        client.jobs.run("etl", env={"A": "1"}, memory="1G")


def test_create_on_a_schedule(fake, client):
    fake.on("POST", API + "jobs", Answer(201, job(schedule="0 3 * * *", next_run="2026-01-03T03:00:00Z")))
    created = client.jobs.create("groups/vision/etl", image="ghcr.io/acme/etl:1", schedule="0 3 * * *")
    assert created["next_run"] == "2026-01-03T03:00:00Z"
    assert fake.sent()[0].body == {"namespace": "groups/vision", "name": "etl", "image": "ghcr.io/acme/etl:1",
                                   "schedule": "0 3 * * *"}
    with pytest.raises(SpecError, match="needs an image or a command"):
        client.jobs.create("etl", schedule="* * * * *")


def test_logs_of_the_newest_run(fake, client):
    fake.on("GET", JOB + "/runs", Answer(body=page([run(4)])))
    fake.on("GET", JOB + "/runs/4/logs", Answer(text="done\n"))
    assert client.jobs.logs("etl", tail=10) == "done\n"
    assert [(r.path, r.params) for r in fake.sent()] == [(JOB + "/runs", {"limit": "1"}),
                                                         (JOB + "/runs/4/logs", {"tail": "10"})]


def test_logs_and_cancel_of_a_given_run(fake, client):
    fake.on("GET", JOB + "/runs/2/logs", Answer(stream=["a", "b"]))
    fake.on("POST", JOB + "/runs/2/cancel", Answer(body=run(2, "cancelled")))
    assert list(client.jobs.logs("etl", run=2, follow=True)) == ["a", "b"]
    assert client.jobs.cancel("etl", 2)["status"] == "cancelled"
    assert [r.path for r in fake.sent()] == [JOB + "/runs/2/logs", JOB + "/runs/2/cancel"]


def test_a_job_that_never_ran_has_no_newest_run(fake, client):
    fake.on("GET", JOB + "/runs", Answer(body=page([])))
    with pytest.raises(Exception, match="users/alice/etl has not run yet"):
        client.jobs.logs("etl")


def test_wait_answers_the_finished_run_and_check_names_the_exit_status(fake, client, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    fake.on("GET", JOB + "/runs/1", Answer(body=run()), Answer(body=run(status="failed", exit_code=3)))
    assert client.jobs.wait("etl", 1, progress=False)["exit_code"] == 3
    fake.on("GET", JOB + "/runs/1", Answer(body=run(status="failed", exit_code=3)))
    with pytest.raises(DeploymentFailed, match=r"Run 1 of users/alice/etl failed with exit status 3\. Its log: "
                                               r"mllab jobs logs users/alice/etl --run 1"):
        client.jobs.wait("etl", 1, progress=False, check=True)


def test_list_show_runs_delete(fake, client):
    fake.on("GET", API + "jobs", Answer(body=page([job()])))
    fake.on("GET", JOB, Answer(body=job([run(2), run(1)])))
    fake.on("GET", JOB + "/runs", Answer(body=page([run(2), run(1)])))
    fake.on("DELETE", JOB, Answer(204))
    assert [j["full_name"] for j in client.jobs.list(namespace="users/alice")] == ["users/alice/etl"]
    assert [r["number"] for r in client.jobs.get("etl")["runs"]] == [2, 1]
    assert [r["number"] for r in client.jobs.runs("etl")] == [2, 1]
    assert client.jobs.delete("etl") is None
    assert [(r.method, r.path) for r in fake.sent()] == [("GET", API + "jobs"), ("GET", JOB), ("GET", JOB + "/runs"),
                                                         ("DELETE", JOB)]
