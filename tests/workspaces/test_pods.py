"""``mllab.hub.backends.pods``: what a pod is made of, for workspaces and deployments."""

from __future__ import annotations

import kubernetes_validate
import pytest
from kubernetes_asyncio.client import ApiClient
from mllab.hub.backends import pods
from mllab.hub.backends.resources import Resources

K8S_VERSION = "1.30"


async def serialized(pod) -> dict:
    async with ApiClient() as client:
        return client.sanitize_for_serialization(pod)


def test_resource_settings():
    assert pods.resource_settings(Resources()) == {}
    assert pods.resource_settings(Resources(cpu_limit=2, mem_guarantee=2**30, gpus=1)) == {
        "cpu_limit": 2,
        "mem_guarantee": 2**30,
        "extra_resource_limits": {"nvidia.com/gpu": "1"},
    }


def test_security_settings():
    settings = pods.security_settings()
    assert (settings["uid"], settings["gid"], settings["fs_gid"]) == (1000, 1000, 1000)
    assert settings["allow_privilege_escalation"] is False
    assert settings["container_security_context"]["capabilities"] == {"drop": ["ALL"]}
    assert pods.security_settings(2000)["uid"] == 2000


async def test_pod_manifest_is_a_valid_pod():
    pod = await serialized(pods.pod_manifest(
        "model-iris-1", "registry.example.org/mllab/model-server:1", port=8080, cmd=["serve", "--port=8080"],
        resources=Resources(cpu_limit=2, cpu_guarantee=1, mem_limit=4 * 2**30, mem_guarantee=2**30, gpus=1),
        env={"MODEL": "iris"}, labels={"app.kubernetes.io/component": "deployment"},
        node_selector={"nvidia.com/gpu.present": "true"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    ))
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    [container] = pod["spec"]["containers"]
    assert container["name"] == "main"
    assert container["args"] == ["serve", "--port=8080"]
    assert container["ports"][0]["containerPort"] == 8080
    assert container["resources"]["limits"] == {"cpu": 2.0, "memory": 4 * 2**30, "nvidia.com/gpu": "1"}
    assert container["resources"]["requests"] == {"cpu": 1.0, "memory": 2**30}
    assert {"name": "MODEL", "value": "iris"} in container["env"]
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["spec"]["securityContext"] == {"fsGroup": 1000}
    assert pod["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["metadata"]["labels"] == {"app.kubernetes.io/part-of": "mllab",
                                         "app.kubernetes.io/component": "deployment"}


@pytest.mark.parametrize("resources", [Resources(), Resources(mem_limit=2**30)], ids=["none", "memory"])
async def test_pod_manifest_asks_only_for_what_is_given(resources):
    pod = await serialized(pods.pod_manifest("x", "img:1", port=80, resources=resources))
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    limits = pod["spec"]["containers"][0]["resources"].get("limits", {})
    assert set(limits) == ({"memory"} if resources.mem_limit else set())
