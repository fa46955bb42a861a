"""The deployments service's tables (SQLAlchemy 2).  Their schema is made by the Alembic
migrations in ``migrations/``; a test checks the two agree.

Table names start with ``deployments_`` so the service may share a database with the hub and
the registry.  The database holds the *desired* state; the controller brings the runtime to it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..db import utcnow


class Base(DeclarativeBase):
    pass


class Deployment(Base):
    """A model or a service that should run (``desired``), and what it does now (``status``)."""

    __tablename__ = "deployments_deployments"
    __table_args__ = (UniqueConstraint("namespace", "name", name="uq_deployments_deployments_ns_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(300), index=True)
    name: Mapped[str] = mapped_column(String(64))
    #: ``model`` or ``service``
    kind: Mapped[str] = mapped_column(String(16))
    #: What to run, as checked by `validation`: image, command, env, port, resources, replicas.
    spec: Mapped[dict] = mapped_column(JSON)
    #: The registry reference as given (``users/alice/churn@production``); None for services.
    model: Mapped[str | None] = mapped_column(String(600), nullable=True)
    #: The version ``model`` resolved to when it was (re)deployed.
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: ``running`` or ``stopped``
    desired: Mapped[str] = mapped_column(String(16))
    #: ``pending``, ``starting``, ``ready``, ``failed`` or ``stopped``
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The workload that serves it now (`runtimes.base.Handle` as JSON); None when nothing runs.
    handle: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))
    #: When its current workload became ready: the idle clock starts there if nobody called it.
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_access: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: Seconds without a request after which it is stopped; 0: never.
    idle_timeout: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"


class Job(Base):
    """A command or image run to completion, now or on a cron schedule."""

    __tablename__ = "deployments_jobs"
    __table_args__ = (UniqueConstraint("namespace", "name", name="uq_deployments_jobs_ns_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(300), index=True)
    name: Mapped[str] = mapped_column(String(64))
    #: image, command, env, resources
    spec: Mapped[dict] = mapped_column(JSON)
    #: Cron expression (UTC), None for jobs run by hand only.
    schedule: Mapped[str | None] = mapped_column(String(200), nullable=True)
    next_run: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))
    #: Run numbers are never reused.
    next_number: Mapped[int] = mapped_column(Integer, default=1)

    runs: Mapped[list[JobRun]] = relationship(
        back_populates="job", cascade="all, delete-orphan", passive_deletes=True, order_by="desc(JobRun.number)"
    )

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"


class JobRun(Base):
    """One run of a job: its workload while it runs, then its exit code and log."""

    __tablename__ = "deployments_job_runs"
    __table_args__ = (UniqueConstraint("job_id", "number", name="uq_deployments_job_runs_job_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("deployments_jobs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    #: ``pending``, ``running``, ``succeeded``, ``failed`` or ``cancelled``
    status: Mapped[str] = mapped_column(String(16))
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: ``manual`` or ``schedule``
    trigger: Mapped[str] = mapped_column(String(16))
    handle: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The output, kept once the run is over and its workload removed.
    log: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    job: Mapped[Job] = relationship(back_populates="runs")


Index("ix_deployments_job_runs_status", JobRun.status)
