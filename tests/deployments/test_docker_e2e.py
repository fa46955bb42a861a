"""The deployments service on the Docker runtime, through the hub: podman's Docker API stands in
for Docker (``tests/workspaces/engine.py``).  A registered model served by the model-server
image, and a service from an image the admin allows; an image not allowed is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..registry.helpers import Registry
from .conftest import mlflow_request, v2_request

pytestmark = pytest.mark.slow


def test_model_and_service_in_containers(docker_lab, sklearn_model, service_image, docker_client):
    token = docker_lab.users["alice"][0].new_token()
    alice = docker_lab.api("alice")
    files = {str(p.relative_to(sklearn_model.path)): p.read_bytes()
             for p in Path(sklearn_model.path).rglob("*") if p.is_file()}
    Registry(docker_lab.hub, token).push("users/alice/iris", files, kind="models")

    model = alice.create(model="users/alice/iris@latest")
    alice.wait(model["full_name"], "ready", timeout=180)
    answer = alice.endpoint(model["full_name"], "invocations", method="POST", json=mlflow_request(sklearn_model))
    assert answer.json() == {"predictions": sklearn_model.expected}
    answer = alice.endpoint(model["full_name"], "v2/models/iris/infer", method="POST", json=v2_request(sklearn_model))
    assert answer.json()["outputs"][0]["data"] == sklearn_model.expected
    ours = {"label": ["org.mllab.name=iris", f"org.mllab.instance={docker_lab.instance}"]}
    (container,) = docker_client.containers.list(filters=ours)
    assert container.attrs["Config"]["User"].startswith("1000")
    host_config = container.attrs["HostConfig"]
    assert host_config["CapDrop"] and "no-new-privileges" in host_config["SecurityOpt"]

    web = alice.create(namespace="users/alice", name="web", image=service_image, port=8000)
    alice.wait(web["full_name"], "ready", timeout=120)
    assert alice.endpoint(web["full_name"], "").status_code == 200

    refused = alice.post("deployments", json={"namespace": "users/alice", "name": "other", "image": "busybox",
                                              "port": 80})
    assert refused.status_code == 403 and refused.json()["error"] == "image_not_allowed"

    for deployment in (model, web):
        assert alice.delete(f"deployments/{deployment['full_name']}").status_code == 204
    assert docker_client.containers.list(all=True, filters=ours) == []
