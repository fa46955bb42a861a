"""The Alembic migrations make exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from mllab.services.registry.db import VERSION_TABLE, migrate
from mllab.services.registry.models import Base
from sqlalchemy import create_engine, inspect


def check(url: str) -> None:
    migrate(url)
    migrate(url)  # a second start finds nothing to do
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE, "compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert VERSION_TABLE in inspect(connection).get_table_names()
    engine.dispose()


def test_sqlite(tmp_path):
    check(f"sqlite:///{tmp_path}/registry.sqlite")


def test_postgres(postgres_url):
    check(postgres_url)
