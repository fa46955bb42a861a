"""The pass-through's own rules (``mllab.extensions.lab.passthrough``), without a hub (test_lab_api.py has one)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from mllab.client.config import settings_from_env
from mllab.client.http import HubSession
from mllab.extensions.lab.errors import LabError
from mllab.extensions.lab.passthrough import check_subpath, forward, is_json, service_prefix

from ..harness import free_port


@pytest.mark.parametrize("path", ["datasets", "datasets/users/alice/iris/versions/3", "", "models/users/a/b%20c"])
def test_service_routes_pass(path):
    assert check_subpath(path) == path


@pytest.mark.parametrize("path", ["../../hub/api/users", "datasets/./x", "%2e%2e/hub/api", "a/%2E%2e/b", "."])
def test_dot_segments_are_refused(path):
    with pytest.raises(LabError) as refused:
        check_subpath(path)
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
    answer = forward(service, "registry", "GET", "410/json", "", None, None)
    assert (answer.status, json.loads(answer.body)) == (410, {"error": "gone", "message": "It went."})


def test_a_file_is_not_passed_through(service):
    with pytest.raises(LabError) as refused:
        forward(service, "registry", "GET", "200/file", "", None, None)
    assert (refused.value.status_code, refused.value.error) == (400, "bad_request")
    assert "pull transfer" in refused.value.message


def test_a_proxy_error_page_is_unreachable(service):
    with pytest.raises(LabError) as down:
        forward(service, "registry", "GET", "503/page", "", None, None)
    assert (down.value.status_code, down.value.error) == (502, "unreachable")
    assert down.value.message.startswith(f"The registry service does not answer at {service.settings.registry_url}")


def test_no_service_listening_is_unreachable():
    url = f"http://127.0.0.1:{free_port()}/"
    http = HubSession(settings_from_env({"MLLAB_URL": url, "MLLAB_REGISTRY_URL": url, "JUPYTERHUB_API_TOKEN": "t"}))
    with pytest.raises(LabError) as down:
        forward(http, "registry", "GET", "datasets", "", None, None)
    assert (down.value.status_code, down.value.error) == (502, "unreachable")
    assert "Connection refused" in down.value.message
