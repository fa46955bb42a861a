"""The deployments database: the shared service plumbing (`mllab.services.db`) with this
service's migrations and version table."""

from __future__ import annotations

from pathlib import Path

from .. import db as _shared
from ..db import Session, make_engine, safe_url

MIGRATIONS = Path(__file__).parent / "migrations"
#: The service's own Alembic version table, so it may share a database with the hub and the registry.
VERSION_TABLE = "deployments_alembic_version"


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (``alembic upgrade head``)."""
    _shared.migrate(url, MIGRATIONS)


class Database(_shared.Database):
    def __init__(self, url: str, workers: int = 8) -> None:
        super().__init__(url, workers, name="deployments")


__all__ = ["Database", "Session", "make_engine", "migrate", "safe_url"]
