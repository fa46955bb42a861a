"""Fixtures shared by every suite: real hubs, PostgreSQL databases, an S3 endpoint, a container engine."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator

import psycopg
import pytest

from .harness import POSTGRES_ADMIN_URL, Hub, free_port, postgres_database_url

#: Fixtures that start a hub, a browser or a container engine (see `slow_fixture`).
SLOW_FIXTURES: set[str] = set()


def slow_fixture(function: Callable) -> Callable:
    """Put under ``@pytest.fixture`` on a fixture that starts a hub, a browser or a container.

    Every test using it, directly or through other fixtures, is marked ``slow``, so that
    ``pytest -m "not slow"`` (``make test-fast``) starts none of them.
    """
    SLOW_FIXTURES.add(function.__name__)
    return function


@pytest.fixture
@slow_fixture
def make_hub(tmp_path_factory) -> Iterator[Callable[..., Hub]]:
    """Start ``mllab up`` hubs on free ports in fresh data dirs; all stopped at the end.

    ``make_hub(db_url=..., args=[...], env={...}, start=True)``
    """
    hubs: list[Hub] = []

    def make(db_url: str | None = None, args: list[str] | None = None, env: dict | None = None,
             start: bool = True) -> Hub:
        root = tmp_path_factory.mktemp("hub")
        hub = Hub(
            data_dir=root / "data",
            port=free_port(),
            admin_password=secrets.token_urlsafe(12),
            db_url=db_url,
            args=list(args or []),
            env=dict(env or {}),
        )
        hubs.append(hub)
        return hub.start() if start else hub

    yield make
    for hub in hubs:
        hub.stop()


@pytest.fixture(scope="module")
@slow_fixture
def hub(tmp_path_factory) -> Iterator[Hub]:
    """One running hub shared by the tests of a module (embedded defaults)."""
    root = tmp_path_factory.mktemp("hub")
    hub = Hub(data_dir=root / "data", port=free_port(), admin_password=secrets.token_urlsafe(12))
    hub.start()
    yield hub
    hub.stop()


def _create_database() -> str:
    name = f"mllab_test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop_database(name: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database on the machine's PostgreSQL, dropped after the test."""
    name = _create_database()
    yield postgres_database_url(name)
    _drop_database(name)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 HTTP endpoint (moto in server mode) on a free port, for the whole run.

    moto keeps everything in memory; tests use their own bucket names to stay apart.
    """
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def _s3_credentials(monkeypatch) -> None:
    # moto accepts any credentials; these keep boto3 from looking for real ones.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
@slow_fixture
def docker_host() -> Iterator[str]:
    """The Docker API URL of podman on this machine (the service is started when needed)."""
    from .workspaces.engine import podman_service

    if os.geteuid() != 0 or shutil.which("podman") is None:
        pytest.skip("the Docker backend tests need root and podman (`make system-packages`)")
    with podman_service() as url:
        yield url


@pytest.fixture
def docker_client(docker_host):
    import docker

    client = docker.DockerClient(base_url=docker_host)
    yield client
    client.close()

#: The browser of the UI tests: Debian's chromium, driven by Playwright.
CHROMIUM = os.environ.get("MLLAB_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
@slow_fixture
def page(tmp_path):
    """A Chromium page (1280x800); its last state is kept as ``last.png`` in the test's folder."""
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is not installed: run `make system-packages`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.set_default_timeout(120_000)
        yield page
        page.screenshot(path=str(tmp_path / "last.png"))
        browser.close()


def pytest_collection_modifyitems(config, items) -> None:
    # A test's fixturenames is the closure of what it uses: fixtures of fixtures included.
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


