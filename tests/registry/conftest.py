"""Registry fixtures: hubs configured for each storage backend, on PostgreSQL, with users.

A hub is shared by the tests of a module (per backend); tests use their own artifact names.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import _create_database, _drop_database, slow_fixture
from ..harness import Hub, HubSession, free_port, postgres_database_url
from .helpers import Registry

BACKENDS = ["local", "s3"]


def write_config(path: Path, storage: str, s3_endpoint: str | None, db_url: str | None,
                 lines: tuple[str, ...] = (), **extra) -> Path:
    """A jupyterhub_config.py setting the registry's storage, database, options and ``lines``."""
    lines = [*lines, f"c.MLLab.storage = {storage!r}"]
    if storage == "s3":
        lines += [
            f"c.MLLab.s3_endpoint_url = {s3_endpoint!r}",
            f"c.MLLab.s3_bucket = {'reg-' + secrets.token_hex(4)!r}",
            "c.MLLab.s3_access_key_id = 'testing'",
            "c.MLLab.s3_secret_access_key = 'testing'",
        ]
    if db_url:
        lines.append(f"c.MLLab.registry_db_url = {db_url!r}")
    # A dotted key names a service's own option ("RegistryApp.stream"), else an MLLab one.
    lines += [f"c.{key if '.' in key else 'MLLab.' + key} = {value!r}" for key, value in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Team:
    """A hub with the registry on one backend, and three users."""

    hub: Hub
    backend: str
    db_url: str
    users: dict[str, tuple[HubSession, str]]

    def registry(self, user: str, **token_body) -> Registry:
        return Registry(self.hub, self.users[user][0].new_token(**token_body))


def start_team(root: Path, backend: str, s3_endpoint: str | None, db_url: str, **options) -> Team:
    root.mkdir(parents=True, exist_ok=True)
    config = write_config(root / "registry_config.py", backend, s3_endpoint, db_url, **options)
    hub = Hub(data_dir=root / "data", port=free_port(), admin_password=secrets.token_urlsafe(12),
              args=["--config", str(config)])
    hub.start()
    users = {name: hub.add_user(name) for name in ("alice", "bob", "carol")}
    return Team(hub, backend, db_url, users)


@pytest.fixture(scope="module", params=BACKENDS)
@slow_fixture
def team(request, tmp_path_factory) -> Iterator[Team]:
    """A running hub per storage backend (module-scoped), its registry on PostgreSQL."""
    s3 = request.getfixturevalue("s3_endpoint") if request.param == "s3" else None
    database = _create_database()
    team = start_team(tmp_path_factory.mktemp(f"registry-{request.param}"), request.param, s3,
                      postgres_database_url(database))
    yield team
    team.hub.stop()
    _drop_database(database)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Artifact names of their own for each test on a shared hub."""
    return lambda prefix="a": f"{prefix}-{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
@slow_fixture
def local_team(tmp_path_factory) -> Iterator[Team]:
    """A running hub with local storage, its registry on PostgreSQL (module-scoped)."""
    database = _create_database()
    team = start_team(tmp_path_factory.mktemp("registry-local"), "local", None, postgres_database_url(database))
    yield team
    team.hub.stop()
    _drop_database(database)


@pytest.fixture
@slow_fixture
def make_team(tmp_path_factory, postgres_url) -> Iterator[Callable[..., Team]]:
    """``make_team(backend, s3_endpoint=None, **MLLab options)``: a hub of the test's own."""
    teams: list[Team] = []

    def make(backend: str = "local", s3_endpoint: str | None = None, **options) -> Team:
        team = start_team(tmp_path_factory.mktemp("registry"), backend, s3_endpoint, postgres_url, **options)
        teams.append(team)
        return team

    yield make
    for team in teams:
        team.hub.stop()
