"""The services' databases: engine, Alembic migrations, and running work off the event loop.

Each service keeps its tables (prefixed with its name) and its own Alembic version table, so
several services may share one database, the hub's included.  Handlers stay thin: they call
``await db.run(fn, ...)`` where ``fn(session, ...)`` is a plain function (tests call them
directly), run in a thread inside one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from alembic import command, context
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, MetaData, create_engine, event, exc, pool
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


def utcnow() -> datetime:
    """Naive UTC, the same on SQLite (no time zones) and PostgreSQL: the services' timestamps."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and write transactions that wait their turn."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        # Transactions are begun by the "begin" hook below, not by the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        # IMMEDIATE takes the write lock up front: a transaction that reads then writes cannot
        # fail half-way because another writer got in between.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def migrate(url: str, migrations: Path) -> None:
    """Bring the database at ``url`` to the newest schema of the Alembic folder ``migrations``.

    The folder's ``env.py`` names the service's tables and its own version table.
    """
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def run_migrations(metadata: MetaData, version_table: str) -> None:
    """What a service's Alembic ``env.py`` runs: the migrations of ``metadata``'s tables, online.

    Versions are kept in the service's own ``version_table``; SQLite alters tables in batches.
    """
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=version_table,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def safe_url(url: str) -> str:
    """A database URL without its password, for the log."""
    return make_url(url).render_as_string(hide_password=True)


class DatabaseUnavailable(Exception):
    """The database does not answer (stopped, restarting, unreachable): a 503, never a 500.

    The pool checks connections before use (``pool_pre_ping``), so once it is back the next
    request simply works; no restart is needed.
    """


class Database:
    """Sessions on one engine, used from a small thread pool named after the service."""

    def __init__(self, url: str, workers: int = 8, name: str = "db") -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix=f"{name}-db")

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(session, *args)`` in one transaction, committed if it returns."""
        try:
            with self.sessions.begin() as session:
                return fn(session, *args)
        except (exc.OperationalError, exc.InterfaceError) as e:
            # The driver's own first line says what happened without the statement or its data.
            reason = str(e.orig).strip().splitlines()[0] if e.orig else type(e).__name__
            raise DatabaseUnavailable(f"The service's database is unavailable ({reason}); try again shortly.") from e

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`call` in a worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.call, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()


__all__ = [
    "Database", "DatabaseUnavailable", "Session", "make_engine", "migrate", "run_migrations", "safe_url", "utcnow",
]
