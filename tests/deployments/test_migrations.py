"""The deployments service's Alembic migrations make exactly the schema its models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from mllab.services.deployments.db import VERSION_TABLE, migrate
from mllab.services.deployments.models import Base
from sqlalchemy import create_engine, inspect


def check(url: str) -> None:
    migrate(url)
    migrate(url)  # a second start finds nothing to do
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE, "compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        tables = inspect(connection).get_table_names()
        assert VERSION_TABLE in tables and "alembic_version" not in tables
    engine.dispose()


def test_sqlite(tmp_path):
    check(f"sqlite:///{tmp_path}/deployments.sqlite")


def test_postgres(postgres_url):
    check(postgres_url)
