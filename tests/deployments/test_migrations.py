"""The deployments service's Alembic migrations make exactly the schema its models describe."""

from __future__ import annotations

from mllab.services.deployments.db import VERSION_TABLE, migrate
from mllab.services.deployments.models import Base

from ..harness import check_migrations


def test_sqlite(tmp_path):
    check_migrations(f"sqlite:///{tmp_path}/deployments.sqlite", migrate, Base.metadata, VERSION_TABLE)


def test_postgres(postgres_url):
    check_migrations(postgres_url, migrate, Base.metadata, VERSION_TABLE)
