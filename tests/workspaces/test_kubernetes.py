"""The Kubernetes backend, at the level of the objects KubeSpawner would send.

No Kubernetes cluster exists on the test machines, so this is the level tested: the hub
configuration for ``MLLab.backend = "kubernetes"`` is loaded into a real ``MLLabKubeSpawner``
(constructed with stand-in user and hub objects and no API client: nothing is sent), each
profile is applied with KubeSpawner's own ``load_user_options``, and the pod and PVC specs
come from its own ``get_pod_manifest`` / ``get_pvc_manifest``.  The specs are validated
against the Kubernetes OpenAPI schemas with ``kubernetes-validate`` and checked for what a
user of the profile would get: resources, GPUs, node placement, the home PVC, the security
context.
"""

from __future__ import annotations

import aiohttp
import kubernetes_asyncio.config.kube_config
import kubernetes_validate
import pytest
from kubernetes_asyncio.client import ApiClient
from mllab.hub.backends.kubernetes import MLLabKubeSpawner
from mllab.hub.hubconfig import configure
from tornado import web
from tornado.web import HTTPError
from traitlets.config import Config

from ..harness import free_port

K8S_VERSION = "1.30"
PROFILES = [
    {"display_name": "Small", "cpu_limit": 1, "cpu_guarantee": 0.5, "mem_limit": "2G", "mem_guarantee": "1G",
     "default": True},
    {"display_name": "GPU", "slug": "gpu", "image": "registry.example.org/mllab/workspace-cuda:1.0",
     "cpu_limit": 8, "mem_limit": "32G", "gpus": 2,
     "node_selector": {"nvidia.com/gpu.present": "true"},
     "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
     "environment": {"CUDA_VISIBLE_DEVICES": "all"}},
]


class StandInUser:
    """What KubeSpawner reads from a JupyterHub user (no database behind it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.id = 7
        self.url = f"/user/{name}/"
        self.escaped_name = name
        self.json_escaped_name = name


class StandInHub:
    public_host = ""
    url = "http://hub:8081/hub/"
    base_url = "/"
    api_url = "http://hub:8081/hub/api"


#: KubeSpawner loads a client configuration when constructed; this one names a cluster that
#: does not exist (nothing listens there), and nothing is ever sent to it.
KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: not-a-real-token}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: mllab}}]
current-context: none
"""


@pytest.fixture
def spawner_config(tmp_path, monkeypatch) -> Config:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    # Read by kubernetes_asyncio at import, so patched where it was read into.
    monkeypatch.setattr(kubernetes_asyncio.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    c = Config()
    c.MLLab.backend = "kubernetes"
    c.MLLab.data_dir = str(tmp_path)
    c.MLLab.profiles = PROFILES
    c.MLLabKubeSpawner.storage_class = "fast-ssd"
    configure(c)
    assert c.JupyterHub.spawner_class == "mllab-kubernetes"
    return c


async def render(config: Config, user_options: dict) -> tuple[dict, dict, MLLabKubeSpawner]:
    spawner = MLLabKubeSpawner(config=config, user=StandInUser("alice"), hub=StandInHub(), _mock=True,
                          api_token="not-a-real-token", oauth_client_id="jupyterhub-user-alice")
    spawner.user_options = user_options
    await spawner.load_user_options()
    async with ApiClient() as client:
        pod = client.sanitize_for_serialization(await spawner.get_pod_manifest())
        pvc = client.sanitize_for_serialization(spawner.get_pvc_manifest())
    for manifest in (pod, pvc):
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    return pod, pvc, spawner


def workspace_container(pod: dict) -> dict:
    return next(c for c in pod["spec"]["containers"] if c["name"] == "notebook")


async def test_default_profile(spawner_config):
    pod, _, _ = await render(spawner_config, {})
    container = workspace_container(pod)
    assert container["image"] == "mllab/workspace:latest"
    assert container["resources"] == {
        "limits": {"cpu": 1.0, "memory": 2 * 2**30},
        "requests": {"cpu": 0.5, "memory": 2**30},
    }
    assert "nodeSelector" not in pod["spec"]


async def test_gpu_profile(spawner_config):
    pod, _, _ = await render(spawner_config, {"profile": "gpu"})
    container = workspace_container(pod)
    assert container["image"] == "registry.example.org/mllab/workspace-cuda:1.0"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert container["resources"]["limits"]["cpu"] == 8.0
    assert pod["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CUDA_VISIBLE_DEVICES"] == "all"
    # The profile's environment adds to the platform's, which the client inside needs.
    assert env["MLLAB_REGISTRY_URL"] == "http://proxy-public/services/registry/"
    assert env["JUPYTERHUB_API_URL"] == "http://hub:8081/hub/api"
    assert "JUPYTERHUB_API_TOKEN" in env


@pytest.mark.parametrize("profile", ["small", "gpu"])
async def test_home_is_a_per_user_pvc(spawner_config, profile):
    pod, pvc, spawner = await render(spawner_config, {"profile": profile})
    assert pvc["kind"] == "PersistentVolumeClaim"
    assert pvc["metadata"]["name"] == "mllab-home-alice"
    assert pvc["spec"]["storageClassName"] == "fast-ssd"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["home"]["persistentVolumeClaim"]["claimName"] == "mllab-home-alice"
    mounts = {m["name"]: m["mountPath"] for m in workspace_container(pod)["volumeMounts"]}
    assert mounts["home"] == "/home/jovyan"
    # Kept when the workspace stops; removed (by KubeSpawner.delete_forever) when the user is deleted.
    assert spawner.delete_pvc is True


@pytest.mark.parametrize("profile", ["small", "gpu"])
async def test_security_context(spawner_config, profile):
    pod, _, _ = await render(spawner_config, {"profile": profile})
    context = workspace_container(pod)["securityContext"]
    assert context["runAsUser"] == 1000
    assert context["runAsNonRoot"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert pod["spec"]["securityContext"]["fsGroup"] == 1000


async def test_unknown_profile_is_refused(spawner_config):
    with pytest.raises((ValueError, HTTPError)):
        await render(spawner_config, {"profile": "huge"})


async def test_image_outside_profiles_is_ignored(spawner_config):
    pod, _, _ = await render(spawner_config, {"image": "evil/miner:latest", "mem_limit": "1T"})
    container = workspace_container(pod)
    assert container["image"] == "mllab/workspace:latest"
    assert container["resources"]["limits"]["memory"] == 2 * 2**30


async def test_profile_list_is_shown(spawner_config):
    _, _, spawner = await render(spawner_config, {})
    assert [p["display_name"] for p in spawner.profile_list] == ["Small", "GPU"]
    assert [p["default"] for p in spawner.profile_list] == [True, False]


async def test_options_on_the_spawner_class(spawner_config):
    """The backend's options are the spawner's: ``c.MLLabKubeSpawner.*`` (or KubeSpawner's own)."""
    spawner_config.MLLabKubeSpawner.pvc_name_template = "home-{username}"
    spawner_config.MLLabKubeSpawner.storage_capacity = "50Gi"
    spawner_config.MLLabKubeSpawner.platform_url = "http://mllab.example.svc/"
    spawner_config.KubeSpawner.hub_connect_url = "http://hub.example.svc:8081"
    pod, pvc, _ = await render(spawner_config, {})
    assert pvc["metadata"]["name"] == "home-alice"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "50Gi"
    env = {e["name"]: e.get("value") for e in workspace_container(pod)["env"]}
    assert env["MLLAB_URL"] == "http://mllab.example.svc/"
    assert env["JUPYTERHUB_API_URL"] == "http://hub.example.svc:8081/hub/api"


async def test_pod_security_is_the_shared_one(spawner_config):
    """Workspaces and `pods.pod_manifest` (deployments) get the same security context."""
    from kubernetes_asyncio.client import ApiClient as Client
    from mllab.hub.backends import pods

    workspace, _, _ = await render(spawner_config, {})
    async with Client() as client:
        other = client.sanitize_for_serialization(pods.pod_manifest("model-x", "img:1", port=8080))
    assert workspace_container(workspace)["securityContext"] == other["spec"]["containers"][0]["securityContext"]
    assert workspace["spec"]["securityContext"] == other["spec"]["securityContext"]
    assert workspace["metadata"]["labels"]["app.kubernetes.io/part-of"] == "mllab"


class PodsStandIn(web.RequestHandler):
    """The one call of the engine check, as a cluster's API server answers it: an empty PodList."""

    def get(self, namespace: str) -> None:
        self.application.settings["seen"].append((namespace, self.get_query_argument("limit", None),
                                                  self.request.headers.get("Authorization")))
        self.finish({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []})


async def test_engine_check_lists_pods_in_the_namespace(spawner_config):
    """``mllab doctor``'s workspace engine line on Kubernetes: one pod list in the spawner's namespace,
    with its credentials, answered here by a stand-in API server (no cluster exists on this machine)."""
    seen: list[tuple] = []
    server = web.Application([(r"/api/v1/namespaces/([^/]+)/pods", PodsStandIn)], seen=seen).listen(0, "127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    spawner_config.MLLabKubeSpawner.k8s_api_host = f"http://127.0.0.1:{port}"
    spawner_config.MLLabKubeSpawner.namespace = "mllab"
    try:
        _, _, spawner = await render(spawner_config, {})
        assert await spawner.engine_check() == "Kubernetes, namespace mllab"
    finally:
        server.stop()
    assert seen == [("mllab", "1", "Bearer not-a-real-token")]


async def test_engine_check_fails_without_a_cluster(spawner_config):
    """No API server at the configured address: the check raises, and doctor prints FAIL with the fix."""
    spawner_config.MLLabKubeSpawner.k8s_api_host = f"http://127.0.0.1:{free_port()}"
    _, _, spawner = await render(spawner_config, {})
    with pytest.raises(aiohttp.ClientConnectorError):
        await spawner.engine_check()
