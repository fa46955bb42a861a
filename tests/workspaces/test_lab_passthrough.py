"""The pass-through's own rules (``mllab.extensions.lab.passthrough``), without a hub (test_lab_api.py has one)."""

from __future__ import annotations

import pytest
from mllab.client.config import settings_from_env
from mllab.extensions.lab.errors import LabError
from mllab.extensions.lab.passthrough import check_subpath, is_json, service_prefix


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
