"""What the controller and the job runner share about workloads: handles as the database keeps
them, the resources a spec asks for, and errors told in a sentence."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from croniter import croniter
from mllab.hub.backends.resources import Resources

from .runtimes.base import Handle


def handle_of(data: dict | None) -> Handle | None:
    """The `Handle` a record keeps as JSON (None: nothing runs for it)."""
    return Handle(**data) if data else None


def handle_json(handle: Handle) -> dict:
    return dataclasses.asdict(handle)


def resources_of(spec: dict) -> Resources:
    """The `Resources` a deployment's or job's spec asks for."""
    given = spec.get("resources") or {}
    return Resources(cpu_limit=given.get("cpu_limit"), mem_limit=given.get("mem_limit"), gpus=given.get("gpus", 0))


def reason(error: BaseException) -> str:
    """What went wrong, for a status message: an APIError's message, else the exception's text."""
    return getattr(error, "message", None) or str(error) or type(error).__name__


def next_cron_time(schedule: str, after: datetime) -> datetime:
    """The first time after ``after`` (naive UTC) that the cron expression ``schedule`` names."""
    return croniter(schedule, after).get_next(datetime)
