"""Fixtures of the fuzz tests: a hub per service under test, on PostgreSQL, with alice."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import _create_database, _drop_database, slow_fixture
from ..deployments.conftest import write_service_config
from ..harness import Hub, free_port, postgres_database_url
from ..registry.conftest import write_config


@dataclass
class FuzzHub:
    hub: Hub
    #: A token of alice's with all her scopes.
    token: str
    #: The admin's token that reads the service's metrics (``read:metrics``).
    metrics_token: str


def _start(root: Path, config: Path) -> FuzzHub:
    hub = Hub(data_dir=root / "data", port=free_port(), admin_password=secrets.token_urlsafe(12),
              args=["--config", str(config)])
    hub.start()
    try:
        session, _ = hub.add_user("alice")
        return FuzzHub(hub, session.new_token(), hub.admin().new_token(scopes=["read:metrics"]))
    except BaseException:
        hub.stop()
        raise


@pytest.fixture(scope="module")
@slow_fixture
def registry_hub(tmp_path_factory) -> Iterator[FuzzHub]:
    """A hub whose registry stores locally, its metadata on PostgreSQL."""
    database = _create_database()
    root = tmp_path_factory.mktemp("fuzz-registry")
    running = _start(root, write_config(root / "config.py", "local", None, postgres_database_url(database)))
    yield running
    running.hub.stop()
    _drop_database(database)


@pytest.fixture(scope="module")
@slow_fixture
def deployments_hub(tmp_path_factory) -> Iterator[FuzzHub]:
    """A hub whose deployments service runs workloads as local processes, its state on PostgreSQL."""
    database = _create_database()
    root = tmp_path_factory.mktemp("fuzz-deployments")
    running = _start(root, write_service_config(root / "config.py", postgres_database_url(database)))
    yield running
    running.hub.stop()
    _drop_database(database)
