"""Cursor paging of the registry's lists (API.md): every item once and in order while the list changes,
on PostgreSQL and on the embedded SQLite, through the API and through the client."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator

import pytest
from mllab.client import Client
from mllab.client import http as http_module

from ..conftest import _create_database, _drop_database, slow_fixture
from ..harness import postgres_database_url
from .conftest import Team, start_team


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
@slow_fixture
def catalog(request, tmp_path_factory) -> Iterator[Team]:
    """A hub with local storage, its registry on PostgreSQL or on its default SQLite file."""
    database = _create_database() if request.param == "postgresql" else None
    team = start_team(tmp_path_factory.mktemp(f"paging-{request.param}"), "local", None,
                      postgres_database_url(database) if database else None)
    yield team
    team.hub.stop()
    if database:
        _drop_database(database)


def names(page: dict) -> list[str]:
    return [a["name"] for a in page["items"]]


def test_artifact_pages_hold_each_item_once_while_items_come_and_go(catalog):
    alice = catalog.registry("alice")
    prefix = f"pg{secrets.token_hex(3)}"

    def create(n: int) -> None:
        assert alice.post("datasets", json={"namespace": "users/alice", "name": f"{prefix}-{n:02d}"}).status_code == 201

    for n in range(1, 15, 2):
        create(n)
    first = alice.get("datasets", params={"q": prefix, "limit": 3}).json()
    assert names(first) == [f"{prefix}-01", f"{prefix}-03", f"{prefix}-05"] and first["limit"] == 3
    create(0)  # before the cursor: not on a later page, and nothing shifts
    create(8)  # after it: on a later page, once
    assert alice.call("DELETE", f"datasets/users/alice/{prefix}-09").status_code == 204
    seen, page = names(first), first
    while page["next"]:
        page = alice.get("datasets", params={"q": prefix, "limit": 3, "after": page["next"]}).json()
        seen += names(page)
    assert seen == [f"{prefix}-{n:02d}" for n in (1, 3, 5, 7, 8, 11, 13)]


def test_version_pages_newest_first_while_versions_are_pushed(catalog):
    alice = catalog.registry("alice")
    ref = f"users/alice/pv{secrets.token_hex(3)}"
    for n in range(5):
        alice.push(ref, {"n.txt": f"{n}".encode()})
    page = alice.get(f"datasets/{ref}/versions", params={"limit": 2}).json()
    seen = [v["number"] for v in page["items"]]
    alice.push(ref, {"n.txt": b"newer"})  # version 6: offsets would show version 4 twice
    while page["next"]:
        page = alice.get(f"datasets/{ref}/versions", params={"limit": 2, "after": page["next"]}).json()
        seen += [v["number"] for v in page["items"]]
    assert seen == [5, 4, 3, 2, 1]
    assert [v["number"] for v in alice.get(f"datasets/{ref}/versions").json()["items"]] == [6, 5, 4, 3, 2, 1]


def test_client_lists_pages_through_everything(catalog, monkeypatch, tmp_path):
    alice = catalog.registry("alice")
    prefix = f"pc{secrets.token_hex(3)}"
    for n in range(5):
        assert alice.post("datasets", json={"namespace": "users/alice", "name": f"{prefix}-{n}"}).status_code == 201
    ref = f"users/alice/{prefix}-0"
    for n in range(3):
        alice.push(ref, {"n.txt": f"{n}".encode()})
    monkeypatch.setattr(http_module, "PAGE", 2)
    with Client(catalog.hub.url, alice.token, env={"MLLAB_CACHE_DIR": str(tmp_path)}) as client:
        assert [a["name"] for a in client.datasets.list(q=prefix)] == [f"{prefix}-{n}" for n in range(5)]
        assert [v["number"] for v in client.datasets.versions(ref)] == [3, 2, 1]


def cursor(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize("after", [
    "not base64!", cursor("")[:-1] + "@", base64.urlsafe_b64encode(b"\xff\xfe").decode(), cursor({"a": 1}),
    cursor([]), cursor(["users/alice"]), cursor([1, 2]), cursor(["users/alice", "x", "y"]),
    cursor(["users/alice\u0000", "x"]), cursor(["users/alice", True]), "A" * 2000,
], ids=["not-base64", "bad-char", "not-utf8", "object", "empty", "short", "numbers", "long", "nul", "bool", "huge"])
def test_a_bad_cursor_is_a_400(catalog, after):
    answer = catalog.registry("alice").get("datasets", params={"after": after})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_cursor"


def test_versions_refuse_a_cursor_of_another_list_and_offsets(catalog):
    alice = catalog.registry("alice")
    ref = f"users/alice/pb{secrets.token_hex(3)}"
    alice.push(ref, {"a.txt": b"a"})
    for params in ({"after": cursor(["users/alice", "x"])}, {"after": cursor([2**40])}, {"offset": 0},
                   {"limit": 0}, {"limit": 501}, {"limit": "many"}):
        answer = alice.get(f"datasets/{ref}/versions", params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert set(answer.json()) == {"error", "message"}
