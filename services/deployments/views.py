"""The JSON shapes of API.md: every response body of the deployments service is made here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models import Deployment, Job, JobRun

#: Newest runs shown with a job.
JOB_RUNS_SHOWN = 20


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z``, as API.md says."""
    return moment.isoformat(timespec="milliseconds") + "Z" if moment else None


def endpoint_url(endpoints_url: str, namespace: str, name: str) -> str:
    """The URL of a deployment's endpoint: ``/services/deployments/endpoints/users/alice/churn/``,
    or below the endpoint origin (``https://endpoints.example.org/users/alice/churn/``)."""
    return f"{endpoints_url.rstrip('/')}/{namespace}/{name}/"


def deployment_view(deployment: Deployment, endpoints_url: str) -> dict[str, Any]:
    spec = deployment.spec or {}
    return {
        "namespace": deployment.namespace,
        "name": deployment.name,
        "full_name": deployment.full_name,
        "kind": deployment.kind,
        "model": deployment.model,
        "model_version": deployment.model_version,
        "image": spec.get("image"),
        "command": spec.get("command") or [],
        "env": spec.get("env") or {},
        "port": spec.get("port"),
        "resources": spec.get("resources") or {},
        "replicas": spec.get("replicas", 1),
        "status": deployment.status,
        "message": deployment.message,
        "desired": deployment.desired,
        "url": endpoint_url(endpoints_url, deployment.namespace, deployment.name),
        "created_at": iso(deployment.created_at),
        "updated_at": iso(deployment.updated_at),
        "created_by": deployment.created_by,
        "last_access": iso(deployment.last_access),
        "idle_timeout": deployment.idle_timeout,
    }


def run_view(run: JobRun, job: Job) -> dict[str, Any]:
    return {
        "job": job.full_name,
        "number": run.number,
        "status": run.status,
        "exit_code": run.exit_code,
        "trigger": run.trigger,
        "message": run.message,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
    }


def job_view(job: Job, runs: list[JobRun] | None = None) -> dict[str, Any]:
    spec = job.spec or {}
    view: dict[str, Any] = {
        "namespace": job.namespace,
        "name": job.name,
        "full_name": job.full_name,
        "image": spec.get("image"),
        "command": spec.get("command") or [],
        "env": spec.get("env") or {},
        "resources": spec.get("resources") or {},
        "schedule": job.schedule,
        "next_run": iso(job.next_run),
        "created_at": iso(job.created_at),
        "created_by": job.created_by,
    }
    if runs is not None:
        view["runs"] = [run_view(run, job) for run in runs[:JOB_RUNS_SHOWN]]
    return view
