"""Fixtures of the client suites: hubs whose registry stores on a local folder or on S3 (moto)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mllab.client import Client

from ..conftest import _create_database, _drop_database, slow_fixture
from ..harness import Hub, free_port, postgres_database_url
from .fake_service import FakeService


@dataclass
class User:
    """A hub user with an API token, and a client made from it."""

    hub: Hub
    name: str
    token: str
    cache_dir: Path
    password: str = ""

    def client(self, **kwargs) -> Client:
        # The resume cache is the test's own, never ~/.cache of whoever runs the tests.
        return Client(self.hub.url, self.token, env={"MLLAB_CACHE_DIR": str(self.cache_dir)}, **kwargs)


def _production_hub(root: Path, endpoint: str, db_url: str) -> Hub:
    """A hub the way production runs it: artifacts on S3, the registry's metadata on PostgreSQL."""
    config = root / "s3_config.py"
    config.write_text(
        "c.MLLab.storage = 's3'\n"
        f"c.MLLab.s3_endpoint_url = {endpoint!r}\n"
        f"c.MLLab.s3_bucket = 'client-{secrets.token_hex(4)}'\n"
        "c.MLLab.s3_access_key_id = 'testing'\n"
        "c.MLLab.s3_secret_access_key = 'testing'\n"
        f"c.MLLab.registry_db_url = {db_url!r}\n"
    )
    return Hub(data_dir=root / "data", port=free_port(), admin_password=secrets.token_urlsafe(12),
               args=["--config", str(config)])


@pytest.fixture(scope="module", params=["local", "s3"])
@slow_fixture
def storage_hub(request, tmp_path_factory) -> Iterator[Hub]:
    """A running hub per storage backend: the tests using it run once with each."""
    if request.param == "local":  # the embedded defaults of `mllab up`: a folder and SQLite
        yield request.getfixturevalue("hub")
        return
    database = _create_database()
    hub = _production_hub(tmp_path_factory.mktemp("s3hub"), request.getfixturevalue("s3_endpoint"),
                          postgres_database_url(database))
    try:
        yield hub.start()
    finally:
        hub.stop()
        _drop_database(database)


def make_user(hub: Hub, name: str, cache_dir: Path) -> User:
    session, password = hub.add_user(name)
    return User(hub, name, session.new_token(f"client tests {name}"), cache_dir, password)


@pytest.fixture(scope="module")
def alice(storage_hub, tmp_path_factory) -> User:
    return make_user(storage_hub, "alice", tmp_path_factory.mktemp("alice-cache"))


@pytest.fixture(scope="module")
def bob(storage_hub, tmp_path_factory) -> User:
    return make_user(storage_hub, "bob", tmp_path_factory.mktemp("bob-cache"))


@pytest.fixture
def fake() -> Iterator[FakeService]:
    """A recording HTTP server standing in for the hub and the deployments service (`fake_service`);
    the test fails if the client sent a request the service's OpenAPI document does not allow."""
    with FakeService() as service:
        yield service
    if service.errors:
        pytest.fail("The client sent requests the deployments service's OpenAPI document does not allow:\n  "
                    + "\n  ".join(service.errors), pytrace=False)


@pytest.fixture
def client(fake, tmp_path) -> Iterator[Client]:
    """A `Client` of ``fake``, with its own cache folder."""
    with Client(fake.url, "secret-token", env={"MLLAB_CACHE_DIR": str(tmp_path)}) as c:
        yield c
