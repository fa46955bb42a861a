"""The deployments service's own metrics, next to the request metrics every service has.

Deployments and job runs by status are read from the database when Prometheus scrapes; runs
of the periodic work (the reconciling check, the job schedules) are counted as they happen.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..metrics import REGISTRY
from .db import Database
from .models import Deployment, JobRun

#: The statuses of `Deployment.status` and `JobRun.status`, each a series even when at 0.
DEPLOYMENT_STATUSES = ("pending", "starting", "ready", "failed", "stopped")
RUN_STATUSES = ("pending", "running", "succeeded", "failed", "cancelled")

DEPLOYMENTS = Gauge("mllab_deployments", "Deployments (models and services), by status.", ["status"],
                    registry=REGISTRY)
JOB_RUNS = Gauge("mllab_deployments_job_runs", "Job runs recorded, by status.", ["status"], registry=REGISTRY)
PERIODIC_RUNS = Counter(
    "mllab_deployments_periodic_runs",
    "Runs of the periodic work, by task (check: reconcile with the runtime; run_schedules: start the jobs "
    "due) and outcome.",
    ["task", "outcome"],
    registry=REGISTRY,
)


def _by_status(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    deployments = dict(session.execute(select(Deployment.status, func.count()).group_by(Deployment.status)).all())
    runs = dict(session.execute(select(JobRun.status, func.count()).group_by(JobRun.status)).all())
    return deployments, runs


async def update_deployments_metrics(db: Database) -> None:
    """Read the gauges from the database."""
    deployments, runs = await db.run(_by_status)
    for status in DEPLOYMENT_STATUSES:
        DEPLOYMENTS.labels(status).set(deployments.get(status, 0))
    for status in RUN_STATUSES:
        JOB_RUNS.labels(status).set(runs.get(status, 0))
