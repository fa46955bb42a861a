"""Every route of the deployments service checks its scope; the OpenAPI document tells the truth.

The walk calls every documented operation on alice's deployment and job: without a token (401),
with another user's token (403) and with alice's own token lacking the route's scope (403), then
checks that none of those calls changed or revealed anything.
"""

from __future__ import annotations

import re
import sys

import pytest
import requests
from mllab.services.deployments.app import DeploymentsApp
from mllab.services.openapi import HTTP_METHODS, documented_methods, openapi_document

from .conftest import API, HTTP_SERVICE, DeploymentsAPI, Lab

SECRET = "alice's secret output"
PUBLIC = ("/api/v1/health", "/api/v1/openapi.json")


def operations() -> list[tuple[str, str, str]]:
    document = openapi_document("deployments", "1", "/", DeploymentsApp().all_routes())
    return [
        (path, method, op["x-scope"])
        for path, methods in document["paths"].items()
        for method, op in methods.items()
        if op["x-scope"]
    ]


def test_openapi_matches_routes(lab: Lab):
    doc = requests.get(lab.hub.url + API + "openapi.json", timeout=10).json()
    served = {(path, method) for path, methods in doc["paths"].items() for method in methods}
    routes = DeploymentsApp().all_routes()
    assert served == {(route.openapi_path, method) for route in routes for method in documented_methods(route.handler)}
    for route in routes:
        # No handler method escapes the document (and with it, the walk below).
        defined = {m for m in HTTP_METHODS if m in vars(route.handler) or any(
            m in vars(base) for base in route.handler.__mro__[1:-1] if base.__module__.startswith("mllab"))}
        assert defined <= set(documented_methods(route.handler)), route.path
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            if path == "/metrics":
                assert op["x-scope"] == "read:metrics", method  # JupyterHub's own, as /hub/metrics
            elif path not in PUBLIC:
                assert re.fullmatch(r"custom:deployments:(read|write|invoke)", op["x-scope"]), (path, method)


@pytest.fixture(scope="module")
def walk(lab: Lab):
    """alice's ready deployment and finished job, and tokens that may not reach them."""
    session = lab.users["alice"][0]
    alice = lab.api("alice")
    alice.create(namespace="users/alice", name="secret", command=HTTP_SERVICE, port=8000)
    alice.wait("users/alice/secret", "ready")
    command = [sys.executable, "-c", f"print({SECRET!r})"]
    assert alice.post("jobs", json={"namespace": "users/alice", "name": "secret", "command": command}
                      ).status_code == 201
    assert alice.wait_run("users/alice/secret", 1)["status"] == "succeeded"
    tokens = {
        "no token": None,
        "another user": lab.users["bob"][0].new_token(),
        # alice's own tokens, each lacking the scope a route needs (see `LACKING`)
        "invoke only": session.new_token(scopes=["custom:deployments:invoke!user=alice"]),
        "read only": session.new_token(scopes=["custom:deployments:read!user=alice"]),
        "write only": session.new_token(scopes=["custom:deployments:write!user=alice"]),
    }
    before = alice.get("deployments/users/alice/secret").json()
    yield tokens, before, lab.workload_ids()
    alice.delete("deployments/users/alice/secret")
    alice.delete("jobs/users/alice/secret")


#: The token of `walk` that lacks each scope (write includes read, neither includes invoke).
#: ``read:metrics`` is held by admins only.
LACKING = {"read": "invoke only", "write": "read only", "invoke": "write only", "metrics": "write only"}
VALUES = {"owner_kind": "users", "owner": "alice", "name": "secret", "number": "1", "path": "x"}


def request_body(path: str, method: str) -> dict:
    if method != "post":
        return {}
    if path == "/api/v1/deployments":
        return {"json": {"namespace": "users/alice", "name": "other", "command": HTTP_SERVICE, "port": 8000}}
    if path == "/api/v1/jobs":
        return {"json": {"namespace": "users/alice", "name": "other", "command": ["true"]}}
    return {"json": {}} if path.startswith("/endpoints") else {}


@pytest.mark.parametrize("caller", ["no token", "another user", "lacking scope"])
@pytest.mark.parametrize(("path", "method", "scope"), operations(), ids=[f"{m} {p}" for p, m, _ in operations()])
def test_route_refuses(lab: Lab, walk, caller, path, method, scope):
    tokens, _before, _workloads = walk
    token = tokens[LACKING[scope.rsplit(":", 1)[1]] if caller == "lacking scope" else caller]
    url = lab.hub.url + "services/deployments" + re.sub(r"\{(\w+)\}", lambda m: VALUES[m.group(1)], path)
    params = {"namespace": "users/alice"} if path in ("/api/v1/deployments", "/api/v1/jobs") else {}
    headers = {"Authorization": f"token {token}"} if token else {}
    answer = requests.request(method.upper(), url, headers=headers, params=params, timeout=30,
                              allow_redirects=False, **request_body(path, method))
    assert answer.status_code == (401 if caller == "no token" else 403), answer.text
    if method != "head":
        assert set(answer.json()) == {"error", "message"}
        assert SECRET not in answer.text and "Directory listing" not in answer.text
        assert "127.0.0.1:" not in answer.text  # no runtime address


def test_refused_requests_changed_nothing(lab: Lab, walk):
    _tokens, before, workloads = walk
    alice = lab.api("alice")
    now = alice.get("deployments/users/alice/secret").json()
    assert (now["status"], now["desired"], now["updated_at"]) == ("ready", "running", before["updated_at"])
    assert lab.workload_ids() == workloads
    assert alice.get("deployments/users/alice/other").status_code == 404
    assert alice.get("jobs/users/alice/other").status_code == 404
    assert [r["number"] for r in alice.get("jobs/users/alice/secret/runs").json()["items"]] == [1]
    assert alice.get("jobs/users/alice/secret/runs/1/logs").text == SECRET + "\n"


def test_lists_show_only_what_the_caller_may_read(lab: Lab, walk):
    bob = lab.api("bob")
    for kind in ("deployments", "jobs"):
        assert "users/alice/secret" not in [item["full_name"] for item in bob.get(kind).json()["items"]]
        refused = bob.get(kind, params={"namespace": "users/alice"})
        assert refused.status_code == 403 and SECRET not in refused.text
    assert "users/alice/secret" in [d["full_name"] for d in lab.api("alice").get("deployments").json()["items"]]


def test_narrow_token_reads_no_team(lab: Lab):
    """A token filtered to ``!user=alice`` reads alice's namespace only: not her team's deployments,
    their logs, nor their endpoints; her unnarrowed token reads them as a member."""
    admin = lab.hub.admin()
    assert admin.api("POST", "groups/ops", json={}).status_code == 201
    assert admin.api("POST", "groups/ops/users", json={"users": ["alice"]}).status_code == 200
    team = DeploymentsAPI(lab.hub, admin.new_token())
    team.create(namespace="groups/ops", name="web", command=HTTP_SERVICE, port=8000)
    team.wait("groups/ops/web", "ready")

    member = lab.api("alice")
    assert member.get("deployments/groups/ops/web/logs").status_code == 200
    assert "groups/ops/web" in [d["full_name"] for d in member.get("deployments").json()["items"]]

    narrow = lab.api("alice", scopes=["custom:deployments:read!user=alice", "custom:deployments:invoke!user=alice"])
    listed = narrow.get("deployments").json()["items"]
    assert "groups/ops/web" not in [d["full_name"] for d in listed]
    for path in ("deployments/groups/ops/web", "deployments/groups/ops/web/logs"):
        refused = narrow.get(path)
        assert refused.status_code == 403, path
        assert refused.json()["error"] == "forbidden"
    assert narrow.get("deployments", params={"namespace": "groups/ops"}).status_code == 403
    team.delete("deployments/groups/ops/web")


def test_no_commands_on_the_local_runtime_apart_from_local_workspaces(make_lab):
    """Where workspaces are containers, a command on the local runtime would run as the platform's own
    OS user (its cookie secret, its databases, its engine): every caller is refused, admins too, and
    nothing starts or is recorded.  (Under local workspaces the same requests run: the `lab` tests.)"""
    lab = make_lab(runtime="local", workspace_backend="docker")
    callers = {"alice": lab.api("alice"), "admin": DeploymentsAPI(lab.hub, lab.hub.admin().new_token())}
    command = [sys.executable, "-c", "print(open('/etc/hostname').read())"]
    attempts = [("deployments", {"namespace": "users/alice", "name": "web", "command": HTTP_SERVICE, "port": 8000}),
                 ("jobs", {"namespace": "users/alice", "name": "etl", "command": command})]
    for who, api in callers.items():
        for path, body in attempts:
            answer = api.post(path, json=body)
            assert answer.status_code == 403, (who, path, answer.text)
            refusal = answer.json()
            assert refusal["error"] == "command_not_allowed", refusal
            assert refusal["message"].startswith("the local runtime runs no "), refusal
            assert "workspaces run on 'docker' (DeploymentsApp.workspace_backend)" in refusal["message"]
            assert "DeploymentsApp.runtime = 'docker' or 'kubernetes'" in refusal["message"]
    alice = callers["alice"]
    assert alice.get("deployments/users/alice/web").status_code == 404
    assert alice.get("jobs/users/alice/etl").status_code == 404
    assert lab.workloads() == []
