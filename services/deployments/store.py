"""Deployments, jobs and runs in the database: plain functions on a session.

Handlers and the controller call these through ``Database.run``; tests may call them directly.
Missing things raise ``APIError(404)``, names taken ``APIError(409)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import APIError
from ..paging import Page, PageRequest, keyset_page
from .models import Deployment, Job, JobRun, utcnow

#: Statuses of a run that is not over.
ACTIVE_RUN = ("pending", "running")

# -- deployments ---------------------------------------------------------------------------------


def find_deployment(session: Session, namespace: str, name: str) -> Deployment | None:
    return session.scalars(
        select(Deployment).where(Deployment.namespace == namespace, Deployment.name == name)
    ).first()


def get_deployment(session: Session, namespace: str, name: str) -> Deployment:
    deployment = find_deployment(session, namespace, name)
    if deployment is None:
        raise APIError(404, f"No deployment {namespace}/{name}.")
    return deployment


def deployment_by_id(session: Session, deployment_id: int) -> Deployment | None:
    return session.get(Deployment, deployment_id)


def create_deployment(session: Session, fields: dict[str, Any], user: str) -> Deployment:
    """A new deployment, desired ``running``, status ``pending``; 409 if the name is taken."""
    namespace, name = fields["namespace"], fields["name"]
    if find_deployment(session, namespace, name):
        raise APIError(409, f"Deployment {namespace}/{name} exists already; delete it or choose another name.")
    deployment = Deployment(**fields, desired="running", status="pending", created_by=user)
    session.add(deployment)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise APIError(409, f"Deployment {namespace}/{name} exists already.") from None
    return deployment


def list_deployments(session: Session, namespaces: set[str] | None, paging: PageRequest) -> Page[Deployment]:
    query = select(Deployment)
    if namespaces is not None:
        query = query.where(Deployment.namespace.in_(sorted(namespaces)))
    return keyset_page(session, query, (Deployment.namespace, Deployment.name), paging)


def all_deployments(session: Session) -> list[Deployment]:
    return list(session.scalars(select(Deployment).order_by(Deployment.id)))


def update_deployment(session: Session, deployment_id: int, changes: dict[str, Any]) -> Deployment | None:
    """Change a deployment's columns (``updated_at`` too); None if it was deleted meanwhile."""
    deployment = session.get(Deployment, deployment_id, with_for_update=True)
    if deployment is None:
        return None
    for key, value in changes.items():
        setattr(deployment, key, value)
    deployment.updated_at = utcnow()
    return deployment


def record_access(session: Session, deployment_id: int, moment: datetime) -> None:
    """Remember the newest request seen by the endpoint proxy (not a change: ``updated_at`` stays)."""
    deployment = session.get(Deployment, deployment_id)
    if deployment is not None and (deployment.last_access is None or moment > deployment.last_access):
        deployment.last_access = moment


def delete_deployment(session: Session, deployment_id: int) -> None:
    deployment = session.get(Deployment, deployment_id)
    if deployment is not None:
        session.delete(deployment)


# -- jobs ----------------------------------------------------------------------------------------


def find_job(session: Session, namespace: str, name: str) -> Job | None:
    return session.scalars(select(Job).where(Job.namespace == namespace, Job.name == name)).first()


def get_job(session: Session, namespace: str, name: str) -> Job:
    job = find_job(session, namespace, name)
    if job is None:
        raise APIError(404, f"No job {namespace}/{name}.")
    return job


def create_job(session: Session, fields: dict[str, Any], user: str, next_run: datetime | None) -> Job:
    namespace, name = fields["namespace"], fields["name"]
    if find_job(session, namespace, name):
        raise APIError(409, f"Job {namespace}/{name} exists already; delete it or choose another name.")
    job = Job(**fields, created_by=user, next_run=next_run, next_number=1)
    session.add(job)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise APIError(409, f"Job {namespace}/{name} exists already.") from None
    return job


def list_jobs(session: Session, namespaces: set[str] | None, paging: PageRequest) -> Page[Job]:
    query = select(Job)
    if namespaces is not None:
        query = query.where(Job.namespace.in_(sorted(namespaces)))
    return keyset_page(session, query, (Job.namespace, Job.name), paging)


def job_runs(session: Session, job_id: int, paging: PageRequest) -> Page[JobRun]:
    """A page of the job's runs, newest first."""
    return keyset_page(session, select(JobRun).where(JobRun.job_id == job_id), (JobRun.number,), paging,
                       descending=True)


def get_run(session: Session, job_id: int, number: int) -> JobRun:
    run = session.scalars(select(JobRun).where(JobRun.job_id == job_id, JobRun.number == number)).first()
    if run is None:
        raise APIError(404, f"No run {number} of this job.")
    return run


def new_run(session: Session, job_id: int, trigger: str) -> tuple[Job, JobRun]:
    """Record a pending run with the job's next number."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None:
        raise APIError(404, "The job was deleted.")
    run = JobRun(job_id=job.id, number=job.next_number, status="pending", trigger=trigger)
    job.next_number += 1
    session.add(run)
    session.flush()
    return job, run


def update_run(session: Session, run_id: int, changes: dict[str, Any]) -> JobRun | None:
    run = session.get(JobRun, run_id, with_for_update=True)
    if run is None:
        return None
    for key, value in changes.items():
        setattr(run, key, value)
    return run


def active_runs(session: Session) -> list[tuple[Job, JobRun]]:
    rows = session.execute(
        select(Job, JobRun).join(JobRun, JobRun.job_id == Job.id).where(JobRun.status.in_(ACTIVE_RUN))
        .order_by(JobRun.id)
    )
    return [(job, run) for job, run in rows]


def due_jobs(session: Session, now: datetime) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.next_run.is_not(None), Job.next_run <= now).order_by(Job.id)))


def set_next_run(session: Session, job_id: int, expected: datetime, next_run: datetime | None) -> bool:
    """Move a job's next run on, if nobody did meanwhile (one scheduler wins); True if this call did."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.next_run != expected:
        return False
    job.next_run = next_run
    return True


def delete_job(session: Session, job_id: int) -> None:
    job = session.get(Job, job_id)
    if job is not None:
        session.delete(job)


def all_run_handles(session: Session) -> list[dict]:
    return [h for h in session.scalars(select(JobRun.handle).where(JobRun.handle.is_not(None)))]
