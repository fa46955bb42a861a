"""``/jobs``: commands or images run to completion, now or on a cron schedule, and their runs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ...errors import APIError
from ...openapi import json_answer, operation, ref, text_answer
from ...paging import PageRequest
from ..models import Job, JobRun
from ..schemas import JOB_CREATE, LOG_OPTIONS
from ..store import create_job, get_job, get_run, job_runs, list_jobs
from ..validation import RUN_NUMBER, job_spec
from ..views import JOB_RUNS_SHOWN, job_view, run_view
from ..workloads import next_cron_time
from .base import DeploymentsBaseHandler

_JOB = "/{owner_kind}/{owner}/{name}"


def _list(session: Session, namespaces: set[str] | None, paging: PageRequest) -> dict:
    found = list_jobs(session, namespaces, paging)
    return found.json([job_view(job) for job in found.rows])


def _job(session: Session, namespace: str, name: str) -> dict:
    job = get_job(session, namespace, name)
    return job_view(job, job_runs(session, job.id, PageRequest(JOB_RUNS_SHOWN)).rows)


def _runs(session: Session, namespace: str, name: str, paging: PageRequest) -> dict:
    job = get_job(session, namespace, name)
    found = job_runs(session, job.id, paging)
    return found.json([run_view(run, job) for run in found.rows])


def _run(session: Session, namespace: str, name: str, number: int) -> tuple[Job, JobRun]:
    job = get_job(session, namespace, name)
    return job, get_run(session, job.id, number)


def run_number(text: str) -> int:
    # A pattern, not str.isdigit: that takes "²", which int() does not.
    if not RUN_NUMBER.fullmatch(text) or int(text) < 1:
        raise APIError(400, f"run number {text!r} must be a positive integer.")
    return int(text)


class JobsHandler(DeploymentsBaseHandler):
    @operation("List the jobs the caller may read (?namespace=, ?limit=, ?after=).",
               scope="custom:deployments:read", tags=["jobs"], returns=ref("JobPage"))
    async def get(self) -> None:
        namespaces = self.namespaces()
        self.write_json(await self.service.db.run(_list, namespaces, self.paging()))

    @operation(
        "Create a job ({\"namespace\", \"name\", \"command\"|\"image\", \"env\"?, \"resources\"?, \"schedule\"?}); "
        "without a schedule its first run starts now. 409 if the name is taken.",
        scope="custom:deployments:write", tags=["jobs"], body=JOB_CREATE,
        responses={"201": json_answer("Created", ref("Job"))},
    )
    async def post(self) -> None:
        fields = job_spec(self.get_json_body(), self.service.checks)
        self.require("deployments", "write", fields["namespace"])
        controller = self.service.controller
        next_run = next_cron_time(fields["schedule"], controller.clock()) if fields["schedule"] else None
        job = await self.service.db.run(create_job, fields, self.user, next_run)
        self.log.info("%s created job %s%s", self.user, job.full_name,
                      f" on schedule {job.schedule!r}" if job.schedule else "")
        runs = []
        if not job.schedule:
            runs = [(await controller.jobs.run(job.id, "manual"))[1]]
        self.write_json(job_view(job, runs), status=201)


class OneJob(DeploymentsBaseHandler):
    """A route of one job (no methods of its own)."""

    def job_namespace(self, owner_kind: str, owner: str, name: str, action: str) -> str:
        return self.target(owner_kind, owner, name, action)


class JobHandler(OneJob):
    @operation("Get a job, with its 20 newest runs.", scope="custom:deployments:read", tags=["jobs"],
               returns=ref("Job"))
    async def get(self, owner_kind: str, owner: str, name: str) -> None:
        namespace = self.job_namespace(owner_kind, owner, name, "read")
        self.write_json(await self.service.db.run(_job, namespace, name))

    @operation("Delete a job: its running runs are cancelled, then the job and its history go.",
               scope="custom:deployments:write", tags=["jobs"], responses={"204": {"description": "Deleted"}})
    async def delete(self, owner_kind: str, owner: str, name: str) -> None:
        namespace = self.job_namespace(owner_kind, owner, name, "write")
        job = await self.service.db.run(get_job, namespace, name)
        await self.service.controller.jobs.delete(job)
        self.log.info("%s deleted job %s", self.user, job.full_name)
        self.set_status(204)
        self.finish()


class RunsHandler(OneJob):
    @operation("The job's runs, newest first (?limit=, ?after=).", scope="custom:deployments:read", tags=["jobs"],
               returns=ref("RunPage"))
    async def get(self, owner_kind: str, owner: str, name: str) -> None:
        namespace = self.job_namespace(owner_kind, owner, name, "read")
        self.write_json(await self.service.db.run(_runs, namespace, name, self.paging()))

    @operation("Run the job now.", scope="custom:deployments:write", tags=["jobs"],
               responses={"201": json_answer("Created", ref("Run"))})
    async def post(self, owner_kind: str, owner: str, name: str) -> None:
        namespace = self.job_namespace(owner_kind, owner, name, "write")
        job = await self.service.db.run(get_job, namespace, name)
        job, run = await self.service.controller.jobs.run(job.id, "manual")
        self.write_json(run_view(run, job), status=201)


class RunHandler(OneJob):
    @operation("Get one run of the job.", scope="custom:deployments:read", tags=["jobs"], returns=ref("Run"))
    async def get(self, owner_kind: str, owner: str, name: str, number: str) -> None:
        namespace = self.job_namespace(owner_kind, owner, name, "read")
        job, run = await self.service.db.run(_run, namespace, name, run_number(number))
        self.write_json(run_view(run, job))


class RunLogsHandler(OneJob):
    @operation("A run's output as text/plain: ?tail= lines (default 200), ?follow=1 streams it while it runs.",
               scope="custom:deployments:read", tags=["jobs"], parameters=LOG_OPTIONS,
               responses={"200": text_answer("The log")})
    async def get(self, owner_kind: str, owner: str, name: str, number: str) -> None:
        tail, follow = self.log_options()
        namespace = self.job_namespace(owner_kind, owner, name, "read")
        _job, run = await self.service.db.run(_run, namespace, name, run_number(number))
        controller = self.service.controller
        if follow:
            stream = controller.jobs.follow(run)
            if stream is not None:
                await self.write_text("", stream)
                return
        await self.write_text(await controller.jobs.logs(run, tail))


class RunCancelHandler(OneJob):
    @operation("Cancel a run in progress (status cancelled, its log kept); a finished run stays as it is.",
               scope="custom:deployments:write", tags=["jobs"], returns=ref("Run"))
    async def post(self, owner_kind: str, owner: str, name: str, number: str) -> None:
        namespace = self.job_namespace(owner_kind, owner, name, "write")
        job, run = await self.service.db.run(_run, namespace, name, run_number(number))
        run = await self.service.controller.jobs.cancel(job, run)
        self.log.info("%s cancelled run %d of job %s", self.user, run.number, job.full_name)
        self.write_json(run_view(run, job))


def job_routes() -> list[tuple[str, type]]:
    base = "/api/v1/jobs"
    return [
        (base, JobsHandler),
        (base + _JOB, JobHandler),
        (base + _JOB + "/runs", RunsHandler),
        (base + _JOB + "/runs/{number}", RunHandler),
        (base + _JOB + "/runs/{number}/logs", RunLogsHandler),
        (base + _JOB + "/runs/{number}/cancel", RunCancelHandler),
    ]
