"""Database drill: PostgreSQL stops for a few seconds under requests.

Requests meanwhile get a 503 with a message (never a 500), and the services recover by
themselves once the database is back, with no restart.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter

import pytest
import requests

from ..harness import wait_for
from ..registry.conftest import start_team

pytestmark = pytest.mark.slow


@pytest.fixture
def team(tmp_path, drill_postgres):
    """A hub whose registry and deployments services keep their state in the drill's PostgreSQL."""
    team = start_team(tmp_path, "local", None, drill_postgres.url,
                      **{"DeploymentsApp.db_url": drill_postgres.url})
    yield team
    team.hub.stop()


def test_services_answer_503_and_recover_by_themselves(team, drill_postgres):
    alice = team.registry("alice")
    ref = f"users/alice/steady-{secrets.token_hex(3)}"
    alice.push(ref, {"a.txt": b"before the outage"})
    deployments = team.hub.url + "services/deployments/api/v1/deployments"
    headers = {"Authorization": f"token {alice.token}"}

    statuses: Counter[int] = Counter()
    bodies: list[dict] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            for answer in (alice.get(f"datasets/{ref}"), requests.get(deployments, headers=headers, timeout=30)):
                statuses[answer.status_code] += 1
                if answer.status_code != 200:
                    bodies.append(answer.json())
            time.sleep(0.05)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    wait_for(lambda: statuses[200] >= 4, what="requests before the outage")
    drill_postgres.stop()
    wait_for(lambda: statuses[503] >= 4, timeout=60, what="503s while the database is down")
    during = statuses[503]
    wait_for(lambda: statuses[503] >= during + 20, timeout=60, what="the outage to go on under load")
    drill_postgres.start()
    ok_before = statuses[200]
    wait_for(lambda: statuses[200] >= ok_before + 6, timeout=60, what="the services to recover by themselves")
    stop.set()
    worker.join(30)

    assert set(statuses) == {200, 503}, f"only answers or clear 503s: {dict(statuses)}"
    assert all(b["error"] == "unavailable" and "database" in b["message"].lower() for b in bodies), bodies[:3]
    assert all("password" not in b["message"] and "postgresql://" not in b["message"] for b in bodies)
    # Writes work again too.
    alice.push(ref, {"a.txt": b"after the outage"})
    assert alice.download("datasets", ref, "2", "a.txt").content == b"after the outage"
