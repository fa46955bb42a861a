"""Bad input: each is a 4xx with a JSON error body, and nothing is started or recorded.

The HTTP cases run against a real hub (local runtime): after each, the runtime holds the same
workloads as before and no record exists under the name.  The rules that depend on settings
the hub here does not have (container runtimes, the admin's image patterns) are checked on
the validation functions directly.
"""

from __future__ import annotations

import sys

import pytest
from mllab.services.deployments.validation import (
    Settings,
    check_schedule,
    job_spec,
    model_spec,
    parse_memory,
    service_spec,
)
from mllab.services.errors import APIError

from ..registry.helpers import Registry
from .conftest import HTTP_SERVICE, DeploymentsAPI, Lab

#: A request the OpenAPI document refuses is a 400; one it accepts that is not possible here, a 422.
ERRORS = {400: "bad_request", 422: "invalid"}


def assert_refused(answer, status: int, error: str) -> dict:
    assert (answer.status_code, answer.headers["Content-Type"]) == (status, "application/json; charset=utf-8"), \
        answer.text
    body = answer.json()
    assert set(body) == {"error", "message"} and body["message"], body
    assert body["error"] == error, body
    return body


@pytest.fixture(scope="module")
def alice(lab: Lab) -> DeploymentsAPI:
    return lab.api("alice")


@pytest.fixture(scope="module")
def model(lab: Lab, alice) -> str:
    """A model of alice's in the registry, with an alias ``production``; files don't matter (nothing starts)."""
    registry = Registry(lab.hub, alice.token)
    registry.push("users/alice/churn", {"MLmodel": b"flavors: {}\n"}, kind="models")
    assert registry.call("PUT", "models/users/alice/churn/aliases/production", json={"version": 1}).ok
    return "users/alice/churn"


def good(name: str, /, **changes) -> dict:
    return {"namespace": "users/alice", "name": name, "command": HTTP_SERVICE, "port": 8000, **changes}


BAD_SERVICES = {
    "unknown-field": ({"replica": 2}, 400),
    "name-uppercase": ({"name": "Web"}, 400),
    "name-underscore": ({"name": "we_b"}, 400),
    "name-leading-dash": ({"name": "-web"}, 400),
    "name-too-long": ({"name": "a" * 41}, 400),
    "name-not-a-string": ({"name": 7}, 400),
    "namespace-unknown-kind": ({"namespace": "teams/alice"}, 400),
    "namespace-too-deep": ({"namespace": "users/alice/x"}, 400),
    "port-missing": ({"port": None}, 400),
    "port-zero": ({"port": 0}, 400),
    "port-too-big": ({"port": 70000}, 400),
    "port-string": ({"port": "8000"}, 400),
    "port-bool": ({"port": True}, 400),
    "cpu-negative": ({"resources": {"cpu_limit": -1}}, 400),
    "cpu-zero": ({"resources": {"cpu_limit": 0}}, 400),
    "cpu-string": ({"resources": {"cpu_limit": "two"}}, 400),
    "memory-garbage": ({"resources": {"mem_limit": "lots"}}, 400),
    "memory-tiny": ({"resources": {"mem_limit": 1024}}, 400),
    # Matches the document; the size is out of range (a rule it cannot state with a unit): 422.
    "memory-huge": ({"resources": {"mem_limit": "100T"}}, 422),
    "gpus-negative": ({"resources": {"gpus": -1}}, 400),
    "gpus-fraction": ({"resources": {"gpus": 0.5}}, 400),
    "resource-unknown": ({"resources": {"disk": "1G"}}, 400),
    "resources-not-an-object": ({"resources": [1]}, 400),
    "replicas-zero": ({"replicas": 0}, 400),
    "replicas-eleven": ({"replicas": 11}, 400),
    "env-sets-port": ({"env": {"PORT": "1"}}, 400),
    "env-bad-name": ({"env": {"1X": "a"}}, 400),
    "env-not-a-string": ({"env": {"X": 1}}, 400),
    "command-empty": ({"command": []}, 400),
    "command-not-strings": ({"command": ["python", 3]}, 400),
    "command-nul": ({"command": ["python\x00"]}, 400),
    "command-missing": ({"command": None}, 422),
    "image-on-local-runtime": ({"image": "python:3.12-slim"}, 422),
    "image-not-ascii": ({"image": "pyth\u00f6n:3"}, 400),
    "idle-timeout-negative": ({"idle_timeout": -1}, 400),
    "idle-timeout-string": ({"idle_timeout": "1h"}, 400),
}


@pytest.mark.parametrize(("changes", "status"), BAD_SERVICES.values(), ids=BAD_SERVICES.keys())
def test_bad_service(lab: Lab, alice, unique, changes, status):
    name = unique("bad")
    before = lab.workload_ids()
    body = {key: value for key, value in good(name, **changes).items() if value is not None}
    assert_refused(alice.post("deployments", json=body), status, ERRORS[status])
    assert lab.workload_ids() == before
    assert alice.get(f"deployments/users/alice/{name}").status_code == 404


BAD_MODELS = {
    # (body, status, error); "{model}" is alice's registered model
    "alias-invalid": ({"model": "users/alice/churn@-prod"}, 400, "bad_request"),
    "version-invalid": ({"model": "users/alice/churn:0"}, 400, "bad_request"),
    "reference-without-namespace": ({"model": "churn@production"}, 400, "bad_request"),
    "reference-empty-name": ({"model": "users/alice/"}, 400, "bad_request"),
    "reference-not-a-string": ({"model": ["users/alice/churn"]}, 400, "bad_request"),
    "model-unknown": ({"model": "users/alice/nosuch@production"}, 404, "model_not_found"),
    "alias-unknown": ({"model": "{model}@staging"}, 404, "model_not_found"),
    "version-unknown": ({"model": "{model}:99"}, 404, "model_not_found"),
    "model-unreadable": ({"model": "users/bob/churn@production", "namespace": "users/alice"}, 403, "forbidden"),
    "image-on-local-runtime": ({"model": "{model}@production", "image": "mllab/model-server"}, 422, "invalid"),
    "unknown-field": ({"model": "{model}@production", "port": 8000}, 400, "bad_request"),
    "default-name-invalid": ({"model": "users/alice/Churn_Model@production"}, 422, "invalid"),
    "resources-invalid": ({"model": "{model}@production", "resources": {"cpu_limit": -2}}, 400, "bad_request"),
}


@pytest.mark.parametrize(("body", "status", "error"), BAD_MODELS.values(), ids=BAD_MODELS.keys())
def test_bad_model(lab: Lab, alice, model, unique, body, status, error):
    name = unique("model")
    before = lab.workload_ids()
    body = {"name": name, **{k: v.replace("{model}", model) if isinstance(v, str) else v for k, v in body.items()}}
    if body["model"] == "users/alice/Churn_Model@production":
        del body["name"]
    assert_refused(alice.post("deployments", json=body), status, error)
    assert lab.workload_ids() == before
    assert alice.get(f"deployments/users/alice/{name}").status_code == 404


def test_model_name_taken(lab: Lab, alice, model):
    """A second deployment of a model under its default name is a 409, and starts nothing."""
    created = alice.create(model=f"{model}@production", name="churn-taken")
    before = lab.workload_ids()
    assert_refused(alice.post("deployments", json={"model": f"{model}@production", "name": "churn-taken"}),
                   409, "conflict")
    assert alice.delete(f"deployments/{created['full_name']}").status_code == 204
    assert lab.workload_ids() <= before


PAYLOADS = {
    "not-json": {"data": b"{not json"},
    "json-array": {"json": []},
    "json-string": {"json": "deploy"},
    "empty": {"data": b""},
    "not-utf8": {"data": b"\xff\xfe{}"},
}


@pytest.mark.parametrize("kind", ["deployments", "jobs"])
@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_unparseable_payload(lab: Lab, alice, kind, payload):
    before = lab.workload_ids()
    assert_refused(alice.post(kind, **payload), 400, "bad_request")
    assert lab.workload_ids() == before


BAD_JOBS = {
    "schedule-three-fields": ({"schedule": "* * *"}, 400),
    "schedule-six-fields": ({"schedule": "* * * * * *"}, 400),
    "schedule-out-of-range": ({"schedule": "61 * * * *"}, 422),
    "schedule-words": ({"schedule": "every day"}, 400),
    "schedule-macro": ({"schedule": "@hourly"}, 400),
    "schedule-not-a-string": ({"schedule": 5}, 400),
    "command-missing": ({"command": None}, 422),
    "unknown-field": ({"port": 8000}, 400),
    "name-invalid": ({"name": "ETL"}, 400),
    "image-on-local-runtime": ({"image": "python:3.12-slim"}, 422),
    "resources-invalid": ({"resources": {"mem_limit": "-1G"}}, 400),
}


@pytest.mark.parametrize(("changes", "status"), BAD_JOBS.values(), ids=BAD_JOBS.keys())
def test_bad_job(lab: Lab, alice, unique, changes, status):
    name = unique("job")
    before = lab.workload_ids()
    body = {key: value for key, value in {"namespace": "users/alice", "name": name, "command": ["true"],
                                          **changes}.items() if value is not None}
    assert_refused(alice.post("jobs", json=body), status, ERRORS[status])
    assert lab.workload_ids() == before
    assert alice.get(f"jobs/users/alice/{name}").status_code == 404


BAD_PATHS = {
    # (method, path, params, status, error)
    "name-invalid": ("GET", "deployments/users/alice/Bad_Name", {}, 400, "bad_request"),
    "namespace-invalid": ("GET", "deployments/teams/alice/web", {}, 400, "bad_request"),
    "deployment-unknown": ("GET", "deployments/users/alice/nosuch", {}, 404, "not_found"),
    "start-unknown": ("POST", "deployments/users/alice/nosuch/start", {}, 404, "not_found"),
    "rollout-unknown": ("POST", "deployments/users/alice/nosuch/rollout", {}, 404, "not_found"),
    "delete-unknown": ("DELETE", "deployments/users/alice/nosuch", {}, 404, "not_found"),
    "logs-tail-zero": ("GET", "deployments/users/alice/nosuch/logs", {"tail": "0"}, 400, "bad_request"),
    "logs-tail-words": ("GET", "deployments/users/alice/nosuch/logs", {"tail": "all"}, 400, "bad_request"),
    "logs-follow-invalid": ("GET", "deployments/users/alice/nosuch/logs", {"follow": "2"}, 400, "bad_request"),
    "list-limit-zero": ("GET", "deployments", {"limit": "0"}, 400, "bad_request"),
    "list-limit-huge": ("GET", "jobs", {"limit": "501"}, 400, "bad_request"),
    "list-offset-negative": ("GET", "jobs", {"offset": "-1"}, 400, "bad_request"),
    "list-namespace-invalid": ("GET", "deployments", {"namespace": "everyone"}, 400, "bad_request"),
    "job-unknown": ("GET", "jobs/users/alice/nosuch", {}, 404, "not_found"),
    "run-number-words": ("GET", "jobs/users/alice/nosuch/runs/first", {}, 400, "bad_request"),
    "run-number-zero": ("GET", "jobs/users/alice/nosuch/runs/0", {}, 400, "bad_request"),
    # str.isdigit takes "²", int() does not: it was a 500.
    "run-number-superscript": ("GET", "jobs/users/alice/nosuch/runs/\u00b2", {}, 400, "bad_request"),
    "run-of-unknown-job": ("POST", "jobs/users/alice/nosuch/runs", {}, 404, "not_found"),
    "route-unknown": ("GET", "deployments/users/alice/web/scale", {}, 404, "not_found"),
}


@pytest.mark.parametrize(("method", "path", "params", "status", "error"), BAD_PATHS.values(), ids=BAD_PATHS.keys())
def test_bad_path_or_query(lab: Lab, alice, method, path, params, status, error):
    before = lab.workload_ids()
    assert_refused(alice.call(method, path, params=params), status, error)
    assert lab.workload_ids() == before


def test_run_unknown_number(lab: Lab, alice, unique):
    name = unique("job")
    assert alice.post("jobs", json={"namespace": "users/alice", "name": name, "command": ["true"],
                                    "schedule": "0 0 1 1 *"}).status_code == 201
    assert_refused(alice.get(f"jobs/users/alice/{name}/runs/7"), 404, "not_found")
    assert_refused(alice.post(f"jobs/users/alice/{name}/runs/7/cancel"), 404, "not_found")
    assert alice.delete(f"jobs/users/alice/{name}").status_code == 204


# --- the rules on their own: settings the test hub does not have --------------------------------

DOCKER = Settings(runtime="docker", allowed_images=("python:3.12-*", "registry.example.org/team/*"),
                  model_image="mllab/model-server:1")
#: The embedded platform: the local runtime under local workspaces, where commands run.
LOCAL = Settings(workspace_backend="local")


def refused(call, *args) -> APIError:
    with pytest.raises(APIError) as caught:
        call(*args)
    return caught.value


@pytest.mark.parametrize("image", ["python:3.13", "evil/miner", "registry.example.org/team", "docker.io/python:3.12-x"])
def test_image_not_allowed(image):
    error = refused(service_spec, {"namespace": "users/alice", "name": "web", "image": image, "port": 80}, DOCKER)
    assert (error.status_code, error.error) == (403, "image_not_allowed")
    assert "DeploymentsApp.allowed_images" in error.message
    error = refused(job_spec, {"namespace": "users/alice", "name": "etl", "image": image}, DOCKER)
    assert (error.status_code, error.error) == (403, "image_not_allowed")


def test_images_allowed_by_pattern():
    spec = service_spec({"namespace": "users/alice", "name": "web", "image": "registry.example.org/team/web:2",
                         "command": ["serve"], "port": 80}, DOCKER)
    assert spec["spec"]["image"] == "registry.example.org/team/web:2" and spec["spec"]["command"] == ["serve"]
    assert job_spec({"namespace": "users/alice", "name": "etl", "image": "python:3.12-slim"}, DOCKER)["spec"][
        "image"] == "python:3.12-slim"


def test_model_images():
    """The model server image is allowed without a pattern; another image needs one."""
    _ref, fields = model_spec({"model": "users/alice/churn@production"}, DOCKER)
    assert fields["spec"]["image"] == "mllab/model-server:1"
    _ref, fields = model_spec({"model": "users/alice/churn@production", "image": "mllab/model-server:1"}, DOCKER)
    assert fields["spec"]["image"] == "mllab/model-server:1"
    error = refused(model_spec, {"model": "users/alice/churn@production", "image": "mine/server:1"}, DOCKER)
    assert (error.status_code, error.error) == (403, "image_not_allowed")
    assert refused(service_spec, {"namespace": "users/alice", "name": "web", "port": 80,
                                  "image": "mllab/model-server:1"}, DOCKER).status_code == 403


def test_container_runtime_needs_an_image():
    error = refused(service_spec, {"namespace": "users/alice", "name": "web", "command": ["x"], "port": 80}, DOCKER)
    assert error.status_code == 422 and "needs an image" in error.message


def test_nothing_allowed_by_default():
    bare = Settings(runtime="kubernetes", model_image="mllab/model-server:1")
    for image in ("python:3.12-slim", "busybox"):
        assert refused(job_spec, {"namespace": "users/alice", "name": "etl", "image": image}, bare).status_code == 403


@pytest.mark.parametrize("workspace_backend", ["docker", "kubernetes", ""], ids=["docker", "kubernetes", "unknown"])
def test_local_runtime_runs_no_commands_apart_from_local_workspaces(workspace_backend):
    """A command on the local runtime would run as the platform's own OS user: refused unless workspaces do too."""
    settings = Settings(runtime="local", workspace_backend=workspace_backend)
    for call, body in [(service_spec, {"namespace": "users/alice", "name": "web", "command": ["x"], "port": 80}),
                       (job_spec, {"namespace": "users/alice", "name": "etl", "command": ["x"]})]:
        error = refused(call, body, settings)
        assert (error.status_code, error.error) == (403, "command_not_allowed")
        assert "DeploymentsApp.runtime = 'docker' or 'kubernetes'" in error.message
    # The model server is the service's own program, not a user's command: it still runs.
    _ref, fields = model_spec({"model": "users/alice/churn@production"}, settings)
    assert fields["spec"]["image"] is None and fields["spec"]["command"] == []


@pytest.mark.parametrize(("text", "size"), [(4 * 2**20, 4 * 2**20), ("512M", 512 * 10**6), ("2G", 2 * 10**9),
                                            ("1Gi", 2**30), ("1.5Gi", 3 * 2**29), ("64mi", 64 * 2**20)])
def test_memory_sizes(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize("schedule", ["*/15 * * * *", "0 3 * * 1-5", "30 2 1 * *"])
def test_schedules(schedule):
    assert check_schedule(schedule) == schedule


def test_python_is_not_special():
    """A job's command runs as given: no shell, no interpretation of its arguments."""
    spec = job_spec({"namespace": "users/alice", "name": "etl", "command": [sys.executable, "-c", "print('$PORT')"]},
                    LOCAL)
    assert spec["spec"]["command"][2] == "print('$PORT')"


# -- found by the schemathesis run (tests/fuzz) or while writing the schemas it checks -------------


def test_integral_floats_are_integers():
    """JSON has one number type and JSON Schema calls 8000.0 an integer: the service takes it as 8000."""
    spec = service_spec({"namespace": "users/alice", "name": "web", "command": ["serve"], "port": 8000.0,
                         "replicas": 2.0, "idle_timeout": 60.0, "resources": {"gpus": 1.0, "mem_limit": 2.0**30}},
                        LOCAL)
    assert (spec["spec"]["port"], spec["spec"]["replicas"], spec["idle_timeout"]) == (8000, 2, 60)
    assert spec["spec"]["resources"] == {"gpus": 1, "mem_limit": 2**30}
    assert all(type(v) is int for v in (spec["spec"]["port"], spec["spec"]["replicas"], spec["idle_timeout"]))
    error = refused(service_spec, {"namespace": "users/alice", "name": "web", "command": ["x"], "port": 80.5},
                    LOCAL)
    assert (error.status_code, error.error) == (400, "bad_request")


def test_method_not_allowed_says_which_are(lab: Lab, alice):
    """RFC 9110: a 405 carries Allow, the methods the route implements."""
    for method, path, allow in [("PUT", "deployments", "GET, POST"),
                                ("GET", "jobs/users/alice/x/runs/1/cancel", "POST"),
                                ("PATCH", "jobs/users/alice/x", "GET, DELETE")]:
        answer = alice.call(method, path)
        assert_refused(answer, 405, "method_not_allowed")
        assert answer.headers["Allow"] == allow


def test_openapi_document_states_what_the_service_enforces():
    """Valid OpenAPI 3.1 whose patterns are the service's own: a name they admit passes `check_name`."""
    import re

    from mllab.services.deployments.app import DeploymentsApp
    from mllab.services.deployments.validation import check_name
    from mllab.services.openapi import openapi_document
    from openapi_spec_validator import validate

    app = DeploymentsApp()
    doc = openapi_document("deployments", "1", "/services/deployments/", app.all_routes(), *app.openapi_schemas())
    validate(doc)
    parameters = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/jobs/{owner_kind}/{owner}/{name}/runs/{number}"]
                  ["get"]["parameters"]}
    assert parameters["owner_kind"]["enum"] == ["users", "groups"]
    assert parameters["number"]["minimum"] == 1
    for name in ("web", "a-1", "x" * 40):
        assert re.search(parameters["name"]["pattern"], name) and check_name(name) == name
    for name in ("Web", "-web", "x" * 41, "we_b"):
        assert not re.search(parameters["name"]["pattern"], name)
        assert refused(check_name, name).status_code == 400
    create = doc["paths"]["/api/v1/jobs"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["required"] == ["namespace", "name"]
    assert set(create["responses"]) >= {"201", "422", "4XX", "503"}
