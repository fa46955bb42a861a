"""The registry's Prometheus metrics: behind ``read:metrics``, requests by route and status with their
bytes, upload sessions open, blobs stored, cleanup runs (a real hub, registry on PostgreSQL)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import requests

from ..conftest import _create_database, _drop_database, slow_fixture
from ..harness import postgres_database_url, scrape, wait_for
from .conftest import Team, start_team
from .helpers import API, sha256

METRICS = API.replace("api/v1/", "metrics")
BLOB_ROUTE = "/api/v1/uploads/{upload_id}/blobs/{sha256}"


@pytest.fixture(scope="module")
@slow_fixture
def team(tmp_path_factory) -> Iterator[Team]:
    """A hub whose registry cleans up every second (so cleanup runs can be counted)."""
    database = _create_database()
    team = start_team(tmp_path_factory.mktemp("registry-metrics"), "local", None, postgres_database_url(database),
                      **{"RegistryApp.cleanup_interval": 1})
    yield team
    team.hub.stop()
    _drop_database(database)


@pytest.fixture(scope="module")
def admin_token(team: Team) -> str:
    return team.hub.admin().new_token()


def value(metrics: dict, name: str, **labels: str) -> float:
    """A sample's value; 0 for a series not (yet) there."""
    return metrics.get((name, frozenset(labels.items())), 0.0)


def requests_seen(metrics: dict, method: str, route: str, code: str) -> float:
    return value(metrics, "mllab_request_duration_seconds_count", method=method, route=route, code=code)


def test_metrics_need_the_read_metrics_scope(team: Team, admin_token: str):
    url = team.hub.url + METRICS
    anonymous = requests.get(url, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthorized"
    alice = requests.get(url, headers={"Authorization": f"token {team.users['alice'][0].new_token()}"}, timeout=10)
    assert alice.status_code == 403
    assert "read:metrics" in alice.json()["message"]
    # A token that holds nothing but the scope, sent as Prometheus sends it (docs/operations.md).
    scraper = team.hub.admin().new_token(scopes=["read:metrics"])
    answer = requests.get(url, headers={"Authorization": f"Bearer {scraper}"}, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    assert "mllab_registry_blobs_stored" in answer.text and "process_cpu_seconds_total" in answer.text
    assert "jupyterhub_" not in answer.text  # the hub's own metrics are the hub's to serve
    assert scrape(url, admin_token)  # admins hold read:metrics through the hub's admin role


def test_requests_are_counted_by_route_status_and_bytes(team: Team, admin_token: str):
    url = team.hub.url + METRICS
    alice = team.registry("alice")
    name = f"m-{secrets.token_hex(3)}"
    data = secrets.token_bytes(70_000)
    before = scrape(url, admin_token)

    listed = [alice.get("datasets"), alice.get("datasets")]
    assert [r.status_code for r in listed] == [200, 200]
    assert alice.get(f"datasets/users/alice/{name}").status_code == 404
    assert alice.get("no/such/route").status_code == 404
    upload = alice.start(f"users/alice/{name}", {"d.bin": data}).json()
    assert alice.send(upload, {"d.bin": data}) == len(data)
    after = scrape(url, admin_token)

    def delta(metric, **labels):
        return value(after, metric, **labels) - value(before, metric, **labels)

    assert requests_seen(after, "GET", "/api/v1/datasets", "200") - requests_seen(before, "GET", "/api/v1/datasets",
                                                                                  "200") == 2
    artifact_route = "/api/v1/datasets/{owner_kind}/{owner}/{name}"
    assert requests_seen(after, "GET", artifact_route, "404") - requests_seen(before, "GET", artifact_route, "404") == 1
    assert requests_seen(after, "GET", "(unmatched)", "404") - requests_seen(before, "GET", "(unmatched)", "404") == 1
    assert requests_seen(after, "PUT", BLOB_ROUTE, "200") - requests_seen(before, "PUT", BLOB_ROUTE, "200") == 1
    # Bytes each way, exactly: the streamed body in, the list bodies out.
    assert delta("mllab_request_bytes_total", method="PUT", route=BLOB_ROUTE) == len(data)
    assert delta("mllab_response_bytes_total", method="GET", route="/api/v1/datasets") == sum(
        len(r.content) for r in listed)
    # The raw paths (the artifact's name, the upload's id) never become labels.
    assert not any(name in str(labels) or upload["id"] in str(labels) for _, labels in after)
    assert value(after, "mllab_request_duration_seconds_bucket", method="GET", route="/api/v1/datasets", code="200",
                 le="+Inf") == requests_seen(after, "GET", "/api/v1/datasets", "200")


def test_uploads_open_and_blobs_stored_follow_the_registry(team: Team, admin_token: str):
    url = team.hub.url + METRICS
    alice = team.registry("alice")
    data = secrets.token_bytes(12_345)
    before = scrape(url, admin_token)

    upload = alice.start(f"users/alice/g-{secrets.token_hex(3)}", {"g.bin": data}).json()
    opened = scrape(url, admin_token)
    assert value(opened, "mllab_registry_uploads_open") == value(before, "mllab_registry_uploads_open") + 1

    alice.send(upload, {"g.bin": data})
    assert alice.post(f"uploads/{upload['id']}/complete").status_code == 201
    done = scrape(url, admin_token)
    assert value(done, "mllab_registry_uploads_open") == value(before, "mllab_registry_uploads_open")
    assert value(done, "mllab_registry_blobs_stored") == value(before, "mllab_registry_blobs_stored") + 1
    assert value(done, "mllab_registry_stored_bytes") == value(before, "mllab_registry_stored_bytes") + len(data)

    # The same content again is stored once: a new session, nothing more stored.
    again = alice.start(f"users/alice/h-{secrets.token_hex(3)}", {"h.bin": data}).json()
    assert again["files"][0]["sha256"] == sha256(data)
    assert alice.call("DELETE", f"uploads/{again['id']}").status_code == 204
    closed = scrape(url, admin_token)
    assert value(closed, "mllab_registry_uploads_open") == value(before, "mllab_registry_uploads_open")
    assert value(closed, "mllab_registry_blobs_stored") == value(done, "mllab_registry_blobs_stored")


def test_cleanup_runs_are_counted(team: Team, admin_token: str):
    url = team.hub.url + METRICS
    runs = value(scrape(url, admin_token), "mllab_registry_gc_runs_total", outcome="ok")
    wait_for(lambda: value(scrape(url, admin_token), "mllab_registry_gc_runs_total", outcome="ok") >= runs + 2,
             timeout=30, what="two more cleanup runs")
    assert value(scrape(url, admin_token), "mllab_registry_gc_runs_total", outcome="failed") == 0


def test_metrics_route_is_in_the_openapi_document(team: Team):
    document = requests.get(team.hub.url + API + "openapi.json", timeout=10).json()
    assert document["paths"]["/metrics"]["get"]["x-scope"] == "read:metrics"
