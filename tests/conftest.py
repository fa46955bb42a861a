"""Fixtures shared by every suite: real hubs, PostgreSQL databases, an S3 endpoint, a container engine."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator

import psycopg
import pytest

from . import run
from .harness import POSTGRES_ADMIN_URL, Hub, free_port, hubs, postgres_database_url

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
    """Hubs of the test's own (see `hubs`), for tests that need their own configuration."""
    with hubs(tmp_path_factory) as make:
        yield make


@pytest.fixture(scope="module")
@slow_fixture
def hub(tmp_path_factory) -> Iterator[Hub]:
    """One running hub shared by the tests of a module (embedded defaults)."""
    with hubs(tmp_path_factory) as make:
        yield make()


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
def docker_host() -> str:
    """The Docker API URL of the run's podman service (started when first needed)."""
    from .workspaces.engine import podman_socket

    # A requirement, as the browser is: a missing engine fails the container tests, never skips them.
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: run `make system-packages`")
    if os.geteuid() != 0:
        pytest.fail("the container tests run podman as root (as CI does): run them as root")
    return podman_socket()


@pytest.fixture
def docker_client(docker_host):
    import docker

    client = docker.DockerClient(base_url=docker_host)
    yield client
    client.close()

#: The browser of the UI tests: Debian's chromium, driven by Playwright.
CHROMIUM = os.environ.get("MLLAB_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
@slow_fixture
def browser():
    """One Chromium for a module's browser tests; each test has a context of its own.

    Not one per run: Playwright's sync API keeps its event loop marked running in this thread
    while the browser lives, and later tests calling ``asyncio.run`` would fail.
    """
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is not installed: run `make system-packages`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
@slow_fixture
def page(browser, tmp_path):
    """A Chromium page (1280x800) in a fresh context (no cookies or storage of other tests); its
    last state is kept as ``last.png`` in the test's folder."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(120_000)
    yield page
    page.screenshot(path=str(tmp_path / "last.png"))
    context.close()


def pytest_configure(config) -> None:
    if not hasattr(config, "workerinput"):  # the controller (or the only process)
        run.start()


def pytest_terminal_summary(terminalreporter, config) -> None:
    # What the image builder did, with its times, and what podman's service said (tests/workspaces/engine.py).
    for name in ("images", "podman"):
        log = run.folder() / f"{name}.log"
        if not hasattr(config, "workerinput") and log.exists() and log.stat().st_size:
            terminalreporter.section(name)
            terminalreporter.write(log.read_text(errors="replace")[-4000:] + "\n")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session) -> None:
    if not hasattr(session.config, "workerinput"):
        run.stop_daemons()


def pytest_unconfigure(config) -> None:
    if not hasattr(config, "workerinput"):
        run.remove()


def pytest_collection_modifyitems(config, items) -> None:
    # A test's fixturenames is the closure of what it uses: fixtures of fixtures included.
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    # The modules of container tests go last, and their images start building now: the other
    # tests run while they build (minutes on a new machine).
    container_modules = {getattr(item, "module", None) for item in items
                         if "docker_host" in getattr(item, "fixturenames", ())}
    if container_modules:
        items.sort(key=lambda item: getattr(item, "module", None) in container_modules)  # stable: modules stay whole
        if os.geteuid() == 0 and shutil.which("podman") and not config.option.collectonly:
            from .workspaces.engine import build_in_background

            build_in_background()


