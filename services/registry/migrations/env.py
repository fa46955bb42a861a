"""Alembic environment of the registry, configured in code (``db.migrate``), no alembic.ini.

To write a new migration after changing ``models.py``::

    alembic -x url=sqlite:///scratch.sqlite ... revision --autogenerate -m "what changed"

(or call ``alembic.command.revision`` with the config `db.migrate` builds).
"""

from __future__ import annotations

from mllab.services.db import run_migrations
from mllab.services.registry.db import VERSION_TABLE
from mllab.services.registry.models import Base

run_migrations(Base.metadata, VERSION_TABLE)
