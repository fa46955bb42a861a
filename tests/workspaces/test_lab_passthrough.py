"""The pass-through's own rules (``mllab.extensions.lab.passthrough``), first without a hub, then through a real
hub to a real deployment: a model saved with MLflow, served by the local runtime."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from mllab.client.config import settings_from_env
from mllab.client.http import HubSession
from mllab.extensions.lab.errors import LabError
from mllab.extensions.lab.passthrough import (
    api_path,
    check_subpath,
    endpoint_path,
    forward,
    is_json,
    service_prefix,
)

from ..deployments import conftest as deployments_fixtures
from ..deployments.conftest import mlflow_request, v2_request
from ..harness import MLLAB, api, env_with_node, free_port, spawn, stop_server

#: A scikit-learn model saved in MLflow's format (the deployments suite's fixture).
sklearn_model = deployments_fixtures.sklearn_model


@pytest.mark.parametrize("path", ["datasets", "datasets/users/alice/iris/versions/3", "", "models/users/a/b%20c"])
def test_service_routes_pass(path):
    assert check_subpath(path) == path


@pytest.mark.parametrize("path", ["../../hub/api/users", "datasets/./x", "%2e%2e/hub/api", "a/%2E%2e/b", "."])
def test_dot_segments_are_refused(path):
    with pytest.raises(LabError) as refused:
        check_subpath(path)
    assert (refused.value.status_code, refused.value.error) == (400, "bad_request")


@pytest.mark.parametrize("path, expected", [
    ("users/alice/churn/invocations", "endpoints/users/alice/churn/invocations"),
    ("groups/vision/clf/v2/models/clf/infer", "endpoints/groups/vision/clf/v2/models/clf/infer"),
    ("users/alice/churn/", "endpoints/users/alice/churn/"),
])
def test_endpoint_paths(path, expected):
    assert endpoint_path(path) == expected


@pytest.mark.parametrize("path", ["", "users", "users/alice", "teams/alice/churn/ping", "users/al%20ice/churn/ping",
                                  "users/alice/-churn/ping", "users/%2e%2e/churn/ping", "users/alice/churn/../../x",
                                  "users/alice/churn/%2E/ping"])
def test_bad_endpoint_paths_are_refused(path):
    with pytest.raises(LabError) as refused:
        endpoint_path(path)
    assert (refused.value.status_code, refused.value.error) == (400, "bad_request")


def test_service_prefixes():
    settings = settings_from_env({"MLLAB_URL": "http://hub:8000/", "MLLAB_REGISTRY_URL": "http://registry:9000/",
                                  "JUPYTERHUB_API_TOKEN": "t"})
    assert service_prefix(settings, "registry") == "http://registry:9000/"
    assert service_prefix(settings, "deployments") == "http://hub:8000/services/deployments/"
    with pytest.raises(LabError) as unknown:
        service_prefix(settings, "mlflow")
    assert unknown.value.status_code == 404


@pytest.mark.parametrize("content_type, expected", [
    ("application/json", True), ("application/json; charset=UTF-8", True), ("application/problem+json", True),
    ("application/octet-stream", False), ("text/html", False), ("", False),
])
def test_json_answers(content_type, expected):
    assert is_json(content_type) is expected


class Canned(BaseHTTPRequestHandler):
    """Answers every GET with the status, content type and body its path ends with: .../<status>/<kind>."""

    BODIES = {"json": ("application/json", b'{"error": "gone", "message": "It went."}'),
              "file": ("application/octet-stream", b"\x00\x01"),
              "text": ("text/plain; charset=utf-8", b"line 1\nline 2\n"),
              "page": ("text/html", b"<html><body>503 Service Unavailable</body></html>")}

    def do_GET(self) -> None:
        *_, status, kind = self.path.split("/")
        content_type, body = self.BODIES[kind]
        self.send_response(int(status))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def service():
    """A real HTTP server standing in for the registry, and a client session pointed at it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    http = HubSession(settings_from_env({"MLLAB_URL": url, "MLLAB_REGISTRY_URL": url, "JUPYTERHUB_API_TOKEN": "t"}))
    yield http
    http.close()
    server.shutdown()


def test_a_json_error_passes_unchanged(service):
    answer = forward(service, "registry", "GET", api_path("410/json"), "", None, None)
    assert (answer.status, json.loads(answer.body)) == (410, {"error": "gone", "message": "It went."})
    assert answer.content_type == "application/json"


def test_plain_text_passes_unchanged(service):
    answer = forward(service, "registry", "GET", api_path("200/text"), "", None, None)
    assert (answer.status, answer.content_type, answer.body) == (200, "text/plain; charset=utf-8",
                                                                 b"line 1\nline 2\n")


def test_a_file_is_not_passed_through(service):
    with pytest.raises(LabError) as refused:
        forward(service, "registry", "GET", api_path("200/file"), "", None, None)
    assert (refused.value.status_code, refused.value.error) == (400, "bad_request")
    assert "pull transfer" in refused.value.message


def test_a_proxy_error_page_is_unreachable(service):
    with pytest.raises(LabError) as down:
        forward(service, "registry", "GET", api_path("503/page"), "", None, None)
    assert (down.value.status_code, down.value.error) == (502, "unreachable")
    assert down.value.message.startswith(f"The registry service does not answer at {service.settings.registry_url}")


def test_no_service_listening_is_unreachable():
    url = f"http://127.0.0.1:{free_port()}/"
    http = HubSession(settings_from_env({"MLLAB_URL": url, "MLLAB_REGISTRY_URL": url, "JUPYTERHUB_API_TOKEN": "t"}))
    with pytest.raises(LabError) as down:
        forward(http, "registry", "GET", api_path("datasets"), "", None, None)
    assert (down.value.status_code, down.value.error) == (502, "unreachable")
    assert "Connection refused" in down.value.message


# --- through a real hub, to a real deployment ---------------------------------------------------


@pytest.fixture(scope="module")
def ada(hub, sklearn_model):
    """ada's token, her model deployed on the local runtime (ready), and her running workspace."""
    session, _ = hub.add_user("ada")
    token = session.new_token()
    env = {k: v for k, v in env_with_node().items() if not k.startswith("JUPYTERHUB_")}
    env.update(MLLAB_URL=hub.url, MLLAB_TOKEN=token)
    for argv in (["models", "register", str(sklearn_model.path), "iris-clf"], ["deploy", "users/ada/iris-clf@latest"]):
        done = subprocess.run([MLLAB, *argv], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"mllab {' '.join(argv)}: {done.stderr}"
    spawn(hub, token, "ada")
    yield token
    stop_server(hub, token, "ada")


def lab(hub, token: str, method: str, path: str, **kwargs) -> requests.Response:
    return api(hub, token, method, f"user/ada/mllab/api/{path}", **kwargs)


def test_deployment_logs_come_through_as_text(hub, ada):
    logs = lab(hub, ada, "GET", "services/deployments/deployments/users/ada/iris-clf/logs?tail=50")
    assert logs.status_code == 200, logs.text
    assert logs.headers["Content-Type"].startswith("text/plain")
    assert logs.text.strip() and not logs.text.lstrip().startswith("{")
    direct = api(hub, ada, "GET", "services/deployments/api/v1/deployments/users/ada/iris-clf/logs?tail=50")
    assert direct.headers["Content-Type"] == logs.headers["Content-Type"]


def test_a_prediction_through_the_endpoint_route(hub, ada, sklearn_model):
    predicted = lab(hub, ada, "POST", "endpoints/users/ada/iris-clf/invocations", json=mlflow_request(sklearn_model))
    assert predicted.status_code == 200, predicted.text
    assert predicted.json() == {"predictions": sklearn_model.expected}
    inferred = lab(hub, ada, "POST", "endpoints/users/ada/iris-clf/v2/models/iris-clf/infer",
                   json=v2_request(sklearn_model))
    assert inferred.status_code == 200, inferred.text
    assert inferred.json()["outputs"][0]["data"] == sklearn_model.expected
    assert lab(hub, ada, "GET", "endpoints/users/ada/iris-clf/v2/health/ready").status_code == 200

    # The model server's own refusal of a payload it cannot read, status and JSON body unchanged.
    refused = lab(hub, ada, "POST", "endpoints/users/ada/iris-clf/invocations", json={"rows": [1, 2]})
    direct = api(hub, ada, "POST", "services/deployments/endpoints/users/ada/iris-clf/invocations",
                 json={"rows": [1, 2]})
    assert refused.status_code == direct.status_code == 400
    assert refused.json() == direct.json() and refused.json()["message"]

    missing = lab(hub, ada, "POST", "endpoints/users/ada/nothing-here/invocations", json=mlflow_request(sklearn_model))
    assert missing.status_code == 404 and missing.json()["message"]


@pytest.mark.parametrize("path", ["endpoints/teams/ada/iris-clf/invocations", "endpoints/users/ada/iris%20clf/ping",
                                  "endpoints/users/ada", "endpoints/groups/ada/-iris-clf/ping"])
def test_a_bad_endpoint_path_is_refused(hub, ada, path):
    # ("." and ".." segments: the proxy resolves them before the server sees them; test_bad_endpoint_paths_are_refused.)
    refused = lab(hub, ada, "POST", path, json={})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "bad_request" and refused.json()["message"]


@pytest.mark.parametrize("method, path", [("POST", "endpoints/users/ada/iris-clf/invocations"),
                                          ("GET", "services/deployments/deployments/users/ada/iris-clf/logs")])
def test_unauthenticated_calls_are_refused(hub, ada, sklearn_model, method, path):
    refused = requests.request(method, f"{hub.url}user/ada/mllab/api/{path}", json=mlflow_request(sklearn_model),
                               allow_redirects=False, timeout=30)
    assert refused.status_code == 403, (refused.status_code, refused.text)
    assert "predictions" not in refused.text
