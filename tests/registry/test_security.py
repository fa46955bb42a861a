"""Every route checks its scope; the OpenAPI document tells the truth; teams share through groups.

The walk runs on both storage backends (``team``: local, and S3 on moto): S3 answers some routes
differently (presigned parts and redirects), and must refuse the same callers.
"""

from __future__ import annotations

import re
import secrets

import pytest
import requests
from mllab.services.openapi import HTTP_METHODS, documented_methods
from mllab.services.registry.app import RegistryApp

from .helpers import API, Registry, manifest


def registered_operations() -> set[tuple[str, str]]:
    return {
        (route.openapi_path, method)
        for route in RegistryApp().all_routes()
        for method in documented_methods(route.handler)
    }


def test_openapi_matches_routes(local_team):
    doc = requests.get(local_team.hub.url + API + "openapi.json", timeout=10).json()
    served = {(path, method) for path, methods in doc["paths"].items() for method in methods}
    assert served == registered_operations()
    for route in RegistryApp().all_routes():
        # No handler method escapes the document (and with it, the security walk below).
        defined = {m for m in HTTP_METHODS if m in vars(route.handler) or any(
            m in vars(base) for base in route.handler.__mro__[1:-1] if base.__module__.startswith("mllab"))}
        assert defined <= set(documented_methods(route.handler)), route.path
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            if path == "/metrics":
                assert op["x-scope"] == "read:metrics", method  # JupyterHub's own, as /hub/metrics
            elif path not in ("/api/v1/health", "/api/v1/openapi.json"):
                assert re.match(r"^custom:(datasets|models|\{kind\}):(read|write)$", op["x-scope"]), (path, method)


@pytest.fixture(scope="module")
def walk(team):
    """alice's artifacts and an open upload, and tokens that may not reach them."""
    alice_session = team.users["alice"][0]
    alice = Registry(team.hub, alice_session.new_token())
    secret = b"alice's secret bytes"
    for kind in ("datasets", "models"):
        alice.push("users/alice/secret", {"s.txt": secret}, kind=kind)
        alice.call("PUT", f"{kind}/users/alice/secret/aliases/prod", json={"version": 1})
    upload = alice.start("users/alice/secret", {"s.txt": secret, "t.txt": b"more secret bytes"}).json()
    tokens = {
        "no token": None,
        "another user": team.users["bob"][0].new_token(),
        # alice's own tokens, each lacking the scope a route needs (see ``lacking``)
        "read only": alice_session.new_token(scopes=["custom:datasets:read!user=alice",
                                                      "custom:models:read!user=alice"]),
        "datasets only": alice_session.new_token(scopes=["custom:datasets:write!user=alice"]),
        "models only": alice_session.new_token(scopes=["custom:models:write!user=alice"]),
    }
    missing = next(f for f in upload["files"] if f["transfer"])["sha256"]
    values = {"owner_kind": "users", "owner": "alice", "name": "secret", "ref": "1", "path": "s.txt",
              "alias": "prod", "upload_id": upload["id"], "sha256": missing}
    return tokens, values, upload["id"]


def lacking(scope: str) -> str:
    """The token of ``walk`` that lacks ``scope``."""
    if scope == "read:metrics":
        return "read only"  # admins alone hold it
    kind, action = scope.split(":")[1:]
    kind = "datasets" if kind == "{kind}" else kind
    if action == "write":
        return "read only"
    return "models only" if kind == "datasets" else "datasets only"


BODIES = {
    "post /api/v1/{kind}": {"json": {"namespace": "users/alice", "name": "other"}},
    "post uploads": {"json": {"files": manifest({"x": b"new bytes"})}},
    "patch": {"json": {"description": "changed"}},
    "put aliases": {"json": {"version": 1}},
    "put blobs": {"data": b"x"},
}


def request_body(path: str, method: str) -> dict:
    if method == "post" and re.match(r"^/api/v1/(datasets|models)$", path):
        return BODIES["post /api/v1/{kind}"]
    for key, body in BODIES.items():
        verb, _, part = key.partition(" ")
        if verb == method and (not part or part in path.split("/")[-2:]):
            return body
    return {}


def operations():
    doc = RegistryApp()
    from mllab.services.openapi import openapi_document

    document = openapi_document("registry", "1", "/", doc.all_routes())
    return [
        (path, method, op["x-scope"])
        for path, methods in document["paths"].items()
        for method, op in methods.items()
        if op["x-scope"]
    ]


@pytest.mark.parametrize("caller", ["no token", "another user", "lacking scope"])
@pytest.mark.parametrize(("path", "method", "scope"), operations(), ids=[f"{m} {p}" for p, m, _ in operations()])
def test_route_refuses(team, walk, caller, path, method, scope):
    tokens, values, upload_id = walk
    token = tokens[lacking(scope) if caller == "lacking scope" else caller]
    url = team.hub.url + "services/registry" + re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    params = {"namespace": "users/alice"} if re.match(r"^/api/v1/(datasets|models)$", path) else {}
    headers = {"Authorization": f"token {token}"} if token else {}
    answer = requests.request(method.upper(), url, headers=headers, params=params, timeout=30,
                              allow_redirects=False, **request_body(path, method))
    expected = 401 if caller == "no token" else 403
    assert answer.status_code == expected, answer.text
    assert set(answer.json()) == {"error", "message"}
    for leak in ("secret bytes", upload_id, values["sha256"], "s.txt"):
        assert leak not in answer.text


def test_models_only_token_cannot_upload_datasets(team, walk):
    """A token for alice's models is refused on every step of a datasets upload, and takes models."""
    tokens, values, upload_id = walk
    models_only = Registry(team.hub, tokens["models only"])
    files = {"m.txt": b"a model's bytes"}
    for answer in (
        models_only.start("users/alice/secret", files),
        models_only.start(f"users/alice/{secrets.token_hex(3)}", files),
        models_only.get(f"uploads/{upload_id}"),
        models_only.call("PUT", f"uploads/{upload_id}/blobs/{values['sha256']}", data=b"more secret bytes"),
        models_only.post(f"uploads/{upload_id}/complete"),
        models_only.call("DELETE", f"uploads/{upload_id}"),
    ):
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"] == "forbidden"
    version, _ = models_only.push(f"users/alice/{secrets.token_hex(3)}", files, kind="models")
    assert version["kind"] == "models"


def test_refused_requests_changed_nothing(team, walk):
    _, _values, upload_id = walk
    alice = team.registry("alice")
    for kind in ("datasets", "models"):
        artifact = alice.get(f"{kind}/users/alice/secret").json()
        assert artifact["description"] == "" and artifact["aliases"] == {"latest": 1, "prod": 1}
        assert alice.get(f"{kind}", params={"namespace": "users/alice", "q": "other"}).json()["items"] == []
    assert alice.get(f"uploads/{upload_id}").json()["status"] == "open"


# The admin lists only their own role; the platform's roles stay (merged by name).
GROUP_ROLES = (
    "c.JupyterHub.load_roles = [{'name': 'vision-writers', 'groups': ['vision-writers'],"
    " 'scopes': ['custom:datasets:write!group=vision']}]",
)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_group_sharing(make_team, request, backend):
    """alice (vision, vision-writers) shares in groups/vision; bob (vision) reads; carol is out."""
    s3 = request.getfixturevalue("s3_endpoint") if backend == "s3" else None
    team = make_team(backend, s3, lines=GROUP_ROLES)
    admin = team.hub.admin()
    assert admin.api("POST", "groups/vision", json={}).status_code == 201
    assert admin.api("POST", "groups/vision/users", json={"users": ["alice", "bob"]}).status_code == 200
    assert admin.api("POST", "groups/vision-writers/users", json={"users": ["alice"]}).status_code == 200
    alice, bob, carol = (team.registry(name) for name in ("alice", "bob", "carol"))
    files = {"img/1.png": b"\x89PNG one"}
    version, _ = alice.push("groups/vision/cats", files)
    assert version["created_by"] == "alice"

    assert bob.get("datasets/groups/vision/cats").status_code == 200
    assert bob.download("datasets", "groups/vision/cats", "latest", "img/1.png").content == files["img/1.png"]
    assert [a["full_name"] for a in bob.get("datasets").json()["items"]] == ["groups/vision/cats"]

    assert carol.get("datasets/groups/vision/cats").status_code == 403
    assert carol.download("datasets", "groups/vision/cats", "latest", "img/1.png").status_code == 403
    assert carol.get("datasets").json()["items"] == []

    # A token narrowed to bob's own namespace means just that: no team.
    narrow = team.registry("bob", scopes=["custom:datasets:read!user=bob"])
    assert narrow.get("datasets").json()["items"] == []
    refused = narrow.get("datasets/groups/vision/cats")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert narrow.download("datasets", "groups/vision/cats", "latest", "img/1.png").status_code == 403
    # With the teams scope beside it, the membership counts again.
    member = team.registry("bob", scopes=["custom:datasets:read!user=bob", "custom:teams:read!user=bob"])
    assert [a["full_name"] for a in member.get("datasets").json()["items"]] == ["groups/vision/cats"]

    assert bob.start("groups/vision/cats", {"new": b"bob's"}).status_code == 403
    assert bob.call("PATCH", "datasets/groups/vision/cats", json={"description": "x"}).status_code == 403
    # A role that grants write lets him.
    assert admin.api("POST", "groups/vision-writers/users", json={"users": ["bob"]}).status_code == 200
    bob = team.registry("bob")
    version, _ = bob.push("groups/vision/cats", {"new": b"bob's"})
    assert version["number"] == 2
