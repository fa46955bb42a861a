"""The registry database: the shared service plumbing (`mllab.services.db`) with the registry's
migrations and version table.

Handlers stay thin: they call ``await db.run(fn, ...)`` where ``fn(session, ...)`` is a plain
function (tests call them directly), run in a thread inside one transaction.
"""

from __future__ import annotations

from pathlib import Path

from .. import db as _shared
from ..db import Session, make_engine

MIGRATIONS = Path(__file__).parent / "migrations"
#: The registry's own Alembic version table: the hub's database has an ``alembic_version`` already.
VERSION_TABLE = "registry_alembic_version"


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (``alembic upgrade head``)."""
    _shared.migrate(url, MIGRATIONS)


class Database(_shared.Database):
    """Sessions on one engine, used from a small thread pool."""

    def __init__(self, url: str, workers: int = 8) -> None:
        super().__init__(url, workers, name="registry")


__all__ = ["Database", "Session", "make_engine", "migrate"]
