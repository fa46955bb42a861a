"""The Alembic migrations make exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from mllab.services.registry.db import VERSION_TABLE, migrate
from mllab.services.registry.models import Base

from ..harness import check_migrations


def test_sqlite(tmp_path):
    check_migrations(f"sqlite:///{tmp_path}/registry.sqlite", migrate, Base.metadata, VERSION_TABLE)


def test_postgres(postgres_url):
    check_migrations(postgres_url, migrate, Base.metadata, VERSION_TABLE)
