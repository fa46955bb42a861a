"""Readiness (``/api/v1/health?deep=1``): every dependency tried, a failure answered 503 with its fix, and
the error's own text (hosts, users, buckets) kept in the log, out of the answer.

A service with probes of the test's own runs in this process on a real port; the services' real
probes (database, storage, runtime) are checked against running platforms in tests/client/test_doctor.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from mllab.services import health
from mllab.services.app import ServiceApp
from mllab.services.db import Database
from mllab.services.health import Probe, database_probe
from tornado.httpclient import AsyncHTTPClient

from ..harness import free_port

SECRET = "postgresql://mllab:hunter2@db.internal/registry"


async def ok() -> str:
    return "fine"


async def broken() -> str:
    raise ConnectionError(f"could not connect to {SECRET}")


async def hanging() -> str:
    await asyncio.sleep(3600)
    return "never"


class ProbedApp(ServiceApp):
    name = "probed"
    #: The probes this instance reports (set per test).
    checks: list[Probe] = []

    def probes(self) -> list[Probe]:
        return self.checks


@pytest.fixture
async def serve(tmp_path) -> AsyncIterator:
    """``await serve(probes)``: the service answering on a free port; its health URL."""
    servers = []

    async def start(probes: list[Probe]) -> str:
        app = ProbedApp(prefix="/services/probed/", data_dir=str(tmp_path))
        app.checks = probes
        port = free_port()
        servers.append(app.make_web_app().listen(port, "127.0.0.1"))
        return f"http://127.0.0.1:{port}/services/probed/api/v1/health"

    yield start
    for server in servers:
        server.stop()


async def get(url: str) -> tuple[int, dict]:
    response = await AsyncHTTPClient().fetch(url, raise_error=False)
    return response.code, json.loads(response.body)


async def test_liveness_tries_nothing(serve):
    url = await serve([Probe("database", broken, "start it")])
    assert await get(url) == (200, {"status": "ok", "service": "probed"})
    assert await get(url + "?deep=0") == (200, {"status": "ok", "service": "probed"})


async def test_deep_lists_every_dependency(serve, tmp_path):
    db = Database(f"sqlite:///{tmp_path}/probe.sqlite")
    try:
        url = await serve([database_probe(db, "ProbedApp.db_url"), Probe("storage", ok, "fix it")])
        status, body = await get(url + "?deep=1")
    finally:
        db.close()
    assert status == 200
    assert body == {
        "status": "ok",
        "service": "probed",
        "checks": [
            {"name": "database", "ok": True, "detail": "sqlite"},
            {"name": "storage", "ok": True, "detail": "fine"},
        ],
    }


async def test_a_failed_dependency_is_a_503_with_its_fix_and_no_error_text(serve, caplog):
    url = await serve([Probe("database", broken, "Check ProbedApp.db_url"), Probe("storage", ok, "fix it")])
    status, body = await get(url + "?deep=1")
    assert status == 503
    assert body["error"] == "unavailable"
    assert body["message"] == "The probed service cannot use its database; see checks for the fix."
    assert body["checks"][0] == {"name": "database", "ok": False, "detail": "failed (ConnectionError)",
                                 "fix": "Check ProbedApp.db_url"}
    assert body["checks"][1]["ok"] is True
    assert "hunter2" not in str(body) and "db.internal" not in str(body)
    assert SECRET in caplog.text  # the admin finds it in the service's log


async def test_a_dependency_that_does_not_answer_fails_in_time(serve, monkeypatch):
    monkeypatch.setattr(health, "PROBE_TIMEOUT", 0.5)
    url = await serve([Probe("runtime", hanging, "start the engine")])
    status, body = await get(url + "?deep=1")
    assert status == 503
    assert body["checks"] == [{"name": "runtime", "ok": False, "detail": "failed (no answer within 0.5 s)",
                               "fix": "start the engine"}]


async def test_bad_deep_value_is_a_400(serve):
    url = await serve([])
    assert await get(url + "?deep=yes") == (400, {"error": "bad_request", "message": "deep must be 0 or 1."})
