"""The deployments service's Prometheus metrics: deployments by status, the periodic check's runs, and
its requests counted by the handlers' base like the registry's (a real hub, local runtime)."""

from __future__ import annotations

import requests

from ..harness import scrape, wait_for
from .conftest import API, HTTP_SERVICE, Lab

METRICS = API.replace("api/v1/", "metrics")


def value(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


def test_metrics_need_the_read_metrics_scope(lab: Lab):
    url = lab.hub.url + METRICS
    assert requests.get(url, timeout=10).status_code == 401
    alice = requests.get(url, headers={"Authorization": f"token {lab.users['alice'][0].new_token()}"}, timeout=10)
    assert alice.status_code == 403
    assert alice.json()["error"] == "forbidden"


def test_deployments_by_status_and_checks(lab: Lab, unique):
    url = lab.hub.url + METRICS
    token = lab.hub.admin().new_token()
    before = scrape(url, token)
    for status in ("pending", "starting", "ready", "failed", "stopped"):
        assert ("mllab_deployments", frozenset({("status", status)})) in before

    alice = lab.api("alice")
    name = unique()
    alice.create(namespace="users/alice", name=name, command=HTTP_SERVICE, port=8000)
    alice.wait(f"users/alice/{name}", "ready")
    ready = scrape(url, token)
    assert value(ready, "mllab_deployments", status="ready") == value(before, "mllab_deployments", status="ready") + 1
    created = "/api/v1/deployments"
    assert value(ready, "mllab_request_duration_seconds_count", method="POST", route=created, code="201") == value(
        before, "mllab_request_duration_seconds_count", method="POST", route=created, code="201") + 1

    assert alice.delete(f"deployments/users/alice/{name}").status_code == 204
    gone = scrape(url, token)
    assert value(gone, "mllab_deployments", status="ready") == value(before, "mllab_deployments", status="ready")

    # The lab checks every second.
    checks = value(gone, "mllab_deployments_periodic_runs_total", task="check", outcome="ok")
    wait_for(lambda: value(scrape(url, token), "mllab_deployments_periodic_runs_total", task="check",
                           outcome="ok") >= checks + 2, timeout=30, what="two more periodic checks")
