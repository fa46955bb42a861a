"""Real processes for the tests: a running hub, users in it, a PostgreSQL database, S3.

Everything starts on free ports in temporary folders and is torn down without leaking
processes (each child is tracked with psutil and killed if it outlives a polite stop).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urljoin

import psutil
import pytest
import requests
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from filelock import FileLock
from sqlalchemy import create_engine, inspect

REPO = Path(__file__).resolve().parents[1]
NODE_BIN = REPO / "node_modules" / ".bin"
MLLAB = str(Path(sys.executable).parent / "mllab")

#: Seconds a hub may take to answer after ``mllab up`` starts (more on a machine shared by many test runs).
HUB_START_TIMEOUT = float(os.environ.get("MLLAB_TEST_HUB_START_TIMEOUT", "120"))

#: The PostgreSQL server of the machine (trust auth on loopback); each run makes its own databases.
POSTGRES_ADMIN_URL = os.environ.get("MLLAB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_database_url(name: str) -> str:
    """SQLAlchemy URL of database ``name`` on the test PostgreSQL server."""
    host = POSTGRES_ADMIN_URL.split("@", 1)[1].rsplit("/", 1)[0]
    user = POSTGRES_ADMIN_URL.split("://", 1)[1].split("@", 1)[0]
    return f"postgresql+psycopg://{user}@{host}/{name}"


def check_migrations(url: str, migrate, metadata, version_table: str) -> None:
    """A service's ``migrate(url)`` makes exactly the schema of ``metadata``, versioned in its own table."""
    migrate(url)
    migrate(url)  # a second start finds nothing to do
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": version_table, "compare_type": True})
        assert compare_metadata(context, metadata) == []
        tables = inspect(connection).get_table_names()
        assert version_table in tables and "alembic_version" not in tables
    engine.dispose()


def load_entry_point(group: str, name: str):
    """What the entry point ``name`` of ``group`` loads; there must be one (a stale egg-info beside counts once)."""
    [entry_point] = {ep.value: ep for ep in entry_points(group=group, name=name)}.values()
    return entry_point.load()


#: The ports ``free_port`` hands out: below the kernel's ephemeral range, where the processes
#: under test (``mllab up``, JupyterHub) pick theirs, so a port given to a test is not also
#: picked by a hub starting on another worker before the test binds it.
TEST_PORTS = range(20000, 32000)
#: The next port to hand out, for every test process on the machine (xdist's workers, other runs).
PORT_LEDGER = Path(tempfile.gettempdir()) / "mllab-test-next-port"


def free_port() -> int:
    """A port that is free now and that no other test process was given lately: they are handed
    out in turn from `TEST_PORTS`, so one comes back only after thousands of others."""
    with FileLock(f"{PORT_LEDGER}.lock"):
        try:
            port = int(PORT_LEDGER.read_text())
        except (FileNotFoundError, ValueError):
            port = TEST_PORTS.start + secrets.randbelow(len(TEST_PORTS))
        for _ in TEST_PORTS:
            port = port if port in TEST_PORTS else TEST_PORTS.start
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    port += 1
                    continue
            PORT_LEDGER.write_text(str(port + 1))
            return port
    raise RuntimeError(f"no free port in {TEST_PORTS}")


def env_with_node(**extra: str) -> dict[str, str]:
    """The environment for child processes: node tools on PATH, this Python first."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(NODE_BIN), env.get("PATH", "")])
    env.update(extra)
    return env


def require(found: object, what: str, install: str) -> None:
    """A part the suite needs: when it is missing the test fails, naming the command that installs
    it, rather than skipping (a skip would pass a run that proved nothing)."""
    if not found:
        pytest.fail(f"{what} is not installed: run `{install}`")


class GaveUp(Exception):
    """Raised by a ``wait_for`` predicate when waiting longer cannot help."""


def wait_for(predicate, timeout: float = 30, interval: float = 0.2, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except GaveUp:
            raise
        except Exception as e:
            last_error = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


def service_process(hub: Hub, module: str) -> psutil.Process:
    """The live process of the managed service ``module`` (e.g. ``mllab.services.registry``) under ``mllab up``."""
    for child in psutil.Process(hub.proc.pid).children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and module in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue  # gone meanwhile
    raise AssertionError(f"no {module} process")


def kill_service(hub: Hub, module: str, health_path: str, timeout: float) -> None:
    """SIGKILL the managed service ``module``; wait for the hub to start a new one that answers ``health_path``."""
    process = service_process(hub, module)
    os.kill(process.pid, signal.SIGKILL)

    def back() -> bool:
        return service_process(hub, module).pid != process.pid and requests.get(
            hub.url + health_path, timeout=2).status_code == 200

    wait_for(back, timeout=timeout, interval=1, what=f"the hub to restart {module}")


def stop_process_tree(proc: subprocess.Popen, timeout: float = 15) -> bool:
    """SIGTERM ``proc`` (which cleans up after itself), then SIGKILL whatever is left.

    True if ``proc`` ended by itself (before or after the SIGTERM), False if it was killed.
    """
    if proc.poll() is not None:
        return True
    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    proc.send_signal(signal.SIGTERM)
    ended = True
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        ended = False
    # Spawned servers run in their own sessions; anything still alive is a leak to reap.
    for child in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(tree, timeout=5)
    return ended


class HubSession(requests.Session):
    """A browser-like session on the hub: cookies, XSRF, the hub's forms."""

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self.hub = hub
        self.username: str | None = None

    def url(self, path: str) -> str:
        return urljoin(self.hub.url, path.lstrip("/"))

    def xsrf(self, path: str = "hub/login") -> str:
        page = self.get(self.url(path))
        page.raise_for_status()
        match = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        return match.group(1) if match else self.cookies.get("_xsrf", path="/hub/")

    def login(self, username: str, password: str) -> requests.Response:
        """Log in through the login form; the response is the page landed on."""
        response = self.post(
            self.url("hub/login"),
            data={"username": username, "password": password, "_xsrf": self.xsrf()},
            allow_redirects=False,
        )
        if response.status_code != 302:
            raise AssertionError(f"login of {username} failed: {response.status_code} {response.text[:300]}")
        self.username = username
        return response

    def signup(self, username: str, password: str) -> requests.Response:
        return self.post(
            self.url("hub/signup"),
            data={"username": username, "signup_password": password, "signup_password_confirmation": password,
                  "_xsrf": self.xsrf("hub/signup")},
        )

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """A hub REST call authenticated by the login cookie (XSRF header included)."""
        headers = {"X-XSRFToken": self.cookies.get("_xsrf", path="/hub/") or self.xsrf(), **kwargs.pop("headers", {})}
        return self.request(method, self.url(f"hub/api/{path.lstrip('/')}"), headers=headers, **kwargs)

    def new_token(self, note: str = "test", **body) -> str:
        response = self.api("POST", f"users/{self.username}/tokens", json={"note": note, **body})
        assert response.status_code == 201, response.text
        return response.json()["token"]


@dataclass
class Hub:
    """An ``mllab up`` process and what a test needs to talk to it."""

    data_dir: Path
    port: int
    admin_password: str
    db_url: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    ready_paths: tuple[str, ...] = (
        "hub/health",
        "services/registry/api/v1/health",
        "services/deployments/api/v1/health",
    )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def command(self) -> list[str]:
        cmd = [MLLAB, "up", "--port", str(self.port), "--data-dir", str(self.data_dir), *self.args]
        if self.db_url:
            cmd += ["--db-url", self.db_url]
        return cmd

    def start(self, timeout: float = HUB_START_TIMEOUT) -> Hub:
        self.log_path = self.data_dir.parent / f"hub-{self.port}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process's life
        self.proc = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env_with_node(**{"MLLAB_ADMIN_PASSWORD": self.admin_password, **self.env}),
            cwd=self.data_dir.parent,
            start_new_session=True,
        )

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise GaveUp(f"hub exited with {self.proc.returncode}:\n{self.log_tail()}")
            return all(
                requests.get(self.url + path, timeout=2, allow_redirects=False).status_code == 200
                for path in self.ready_paths
            )

        try:
            wait_for(ready, timeout=timeout, what=f"hub on port {self.port}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        exited = self.proc.poll() is not None  # by itself: a start that failed
        stopped = stop_process_tree(self.proc) and not exited
        self.proc = None
        if stopped:
            return  # it stopped what it started (tests/deployments/test_local_shutdown.py)
        # Its proxy, services, workspaces and workloads run in sessions of their own, outside the
        # tree that was reaped once the hub had gone: the proxy is the one on its port, the
        # others work in its folder (services in the hub's own, the rest in its data dir).
        folder = self.data_dir.parent.resolve()
        left = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error, OSError):
                command = process.cmdline()
                proxy = any("configurable-http-proxy" in part for part in command[:2]) and \
                    str(self.port) in command
                if proxy or Path(process.cwd()).is_relative_to(folder):
                    left.append(process)
        for process in left:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(left, timeout=5)

    def restart(self) -> Hub:
        self.stop()
        # The same port again: TIME_WAIT sockets do not block a listening bind.
        return self.start()

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def session(self) -> HubSession:
        return HubSession(self)

    def admin(self) -> HubSession:
        session = self.session()
        session.login("admin", self.admin_password)
        return session

    def add_user(self, username: str, password: str | None = None) -> tuple[HubSession, str]:
        """Sign ``username`` up, approve them as admin, log them in."""
        password = password or secrets.token_urlsafe(12)
        response = self.session().signup(username, password)
        assert response.status_code == 200, response.text[:300]
        approval = self.admin().get(self.url + f"hub/authorize/{username}")
        assert approval.status_code == 200, approval.status_code
        session = self.session()
        session.login(username, password)
        return session, password


def scrape(url: str, token: str) -> dict[tuple[str, frozenset], float]:
    """A service's Prometheus metrics (``<prefix>metrics``): ``(sample name, labels) -> value``."""
    from prometheus_client.parser import text_string_to_metric_families

    response = requests.get(url, headers={"Authorization": f"token {token}"}, timeout=30)
    assert response.status_code == 200, response.text[:300]
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def api(hub: Hub, token: str, method: str, path: str, **kwargs) -> requests.Response:
    """A call to ``path`` under the hub's URL with ``token``."""
    headers = {"Authorization": f"token {token}", **kwargs.pop("headers", {})}
    return requests.request(method, hub.url + path.lstrip("/"), headers=headers, timeout=30, **kwargs)


def spawn(hub: Hub, token: str, username: str, timeout: float = 90) -> None:
    """Start ``username``'s workspace and wait until its API answers through the proxy."""
    response = api(hub, token, "POST", f"hub/api/users/{username}/server")
    assert response.status_code in (201, 202), response.text

    def ready():
        model = api(hub, token, "GET", f"hub/api/users/{username}").json()
        return model["servers"].get("", {}).get("ready")

    wait_for(ready, timeout=timeout, what=f"{username}'s workspace")


def stop_server(hub: Hub, token: str, username: str, timeout: float = 60) -> None:
    response = api(hub, token, "DELETE", f"hub/api/users/{username}/server")
    assert response.status_code in (202, 204), response.text
    wait_for(
        lambda: "" not in api(hub, token, "GET", f"hub/api/users/{username}").json()["servers"],
        timeout=timeout,
        what=f"{username}'s workspace to stop",
    )


@contextlib.contextmanager
def hubs(tmp_path_factory) -> Iterator[Callable[..., Hub]]:
    """``make(db_url=..., args=[...], env={...}, start=True)`` starts ``mllab up`` hubs on free
    ports in fresh data dirs; all are stopped when the block ends."""
    started: list[Hub] = []

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
        started.append(hub)
        return hub.start() if start else hub

    try:
        yield make
    finally:
        for hub in started:
            hub.stop()
