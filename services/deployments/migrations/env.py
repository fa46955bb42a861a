"""Alembic environment of the deployments service, configured in code (``db.migrate``), no alembic.ini.

To write a new migration after changing ``models.py``, call ``alembic.command.revision`` with
``autogenerate=True`` on the config `mllab.services.db.migrate` builds, against a scratch database
at the newest revision.
"""

from __future__ import annotations

from mllab.services.db import run_migrations
from mllab.services.deployments.db import VERSION_TABLE
from mllab.services.deployments.models import Base

run_migrations(Base.metadata, VERSION_TABLE)
