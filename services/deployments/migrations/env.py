"""Alembic environment of the deployments service, configured in code (``db.migrate``), no alembic.ini.

To write a new migration after changing ``models.py``, call ``alembic.command.revision`` with
``autogenerate=True`` on the config `mllab.services.db.migrate` builds, against a scratch database
at the newest revision.
"""

from __future__ import annotations

from alembic import context
from mllab.services.deployments.db import VERSION_TABLE
from mllab.services.deployments.models import Base
from sqlalchemy import create_engine, pool

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
