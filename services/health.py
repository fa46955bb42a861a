"""Readiness: whether a service reaches what it depends on (``/api/v1/health?deep=1``).

Each dependency (database, artifact store, runtime engine) is a `Probe`.  The answer names
each probe, ok or failed, and for a failure the fix; it never carries the error's own text,
which may name hosts, users or buckets to an anonymous caller: that goes to the service's log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text

from .db import Database

log = logging.getLogger(__name__)

#: Seconds a probe may take before it counts as failed.
PROBE_TIMEOUT = 10


@dataclass(frozen=True)
class Probe:
    """One dependency: ``check`` raises if it is unusable, else returns a short public description."""

    name: str
    check: Callable[[], Awaitable[str]]
    #: What an admin does when it fails.
    fix: str


async def run_probe(probe: Probe) -> dict:
    """``{"name", "ok", "detail"}``, plus ``"fix"`` when it failed."""
    try:
        detail = await asyncio.wait_for(probe.check(), PROBE_TIMEOUT)
    except Exception as e:
        reason = f"no answer within {PROBE_TIMEOUT} s" if isinstance(e, TimeoutError) else type(e).__name__
        log.warning("Health check of the %s failed: %s", probe.name, e or type(e).__name__)
        return {"name": probe.name, "ok": False, "detail": f"failed ({reason})", "fix": probe.fix}
    return {"name": probe.name, "ok": True, "detail": detail}


async def run_probes(probes: list[Probe]) -> list[dict]:
    """Every probe's result, the probes run together."""
    return list(await asyncio.gather(*(run_probe(probe) for probe in probes)))


def database_probe(db: Database, setting: str) -> Probe:
    """The service's database answers a query; ``setting`` names the trait holding its URL."""

    async def check() -> str:
        await db.run(lambda session: session.execute(text("SELECT 1")))
        return db.engine.dialect.name

    return Probe(
        "database",
        check,
        f"Check that the database server runs and that {setting} points at it (the service's log has the error).",
    )
