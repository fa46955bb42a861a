"""The registry and deployments pods of the chart: their configuration as the services read it,
the deployments service's Role against the calls its runtime makes, and who may connect to what.

No cluster exists here: the services' configuration files are loaded by the real applications
(nothing starts), and the runtime runs against the in-memory stand-in of the Kubernetes API of
the runtime's own tests (`FakeCluster`), which records each call it gets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient
from mllab.hub.backends import pods
from mllab.services.deployments.app import DeploymentsApp
from mllab.services.registry.app import RegistryApp
from mllab.services.storage import S3Storage

from ..deployments.test_runtime_kubernetes import JOB, MODEL, SERVICE, FakeCluster
from .conftest import CHART, NAMESPACE, RELEASE, SETUPS, coalesce, find, load_yaml, render

#: Labels of z2jh 4.4.0's pods that the chart's policies refer to (z2jh's templates cannot be
#: rendered here): the proxy's and the hub's, and a user's workspace pod (KubeSpawner's).
Z2JH_PODS = {
    "proxy": {"component": "proxy", "app": "jupyterhub", "release": RELEASE, "app.kubernetes.io/component": "proxy"},
    "hub": {"component": "hub", "app": "jupyterhub", "release": RELEASE, "app.kubernetes.io/component": "hub"},
    "workspace": {"component": "singleuser-server", "app": "jupyterhub", "release": RELEASE, **pods.LABELS},
}
#: Where each kind of object the runtime touches is in the Kubernetes API: (group, resource).
RESOURCES = {"NetworkPolicy": ("networking.k8s.io", "networkpolicies"), "Service": ("", "services"),
             "Deployment": ("apps", "deployments"), "Job": ("batch", "jobs"), "Pod": ("", "pods")}


@pytest.fixture(scope="module", params=sorted(SETUPS))
def install_name(request) -> str:
    """Which of the installs (`SETUPS`) the module's objects are of."""
    return request.param


@pytest.fixture(scope="module")
def objects(install_name, chart) -> list[dict]:
    return render(chart, SETUPS[install_name])


def bundled(install_name: str, component: str) -> bool:
    """Whether the install's values run ``component`` (postgresql, minio) in the cluster."""
    values = coalesce(load_yaml(CHART / "values.yaml"), SETUPS[install_name])
    return values["postgresql" if component == "postgresql" else "s3"]["bundled"]


def config_file(objects: list[dict], service: str, folder: Path) -> str:
    """The service's configuration file as its container sees it: the ConfigMap mounted at the
    path its command names."""
    pod = find(objects, "Deployment", f"mllab-{service}")["spec"]["template"]["spec"]
    command = pod["containers"][0]["command"]
    path = Path(command[command.index("--config") + 1])
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == str(path.parent))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    data = find(objects, "ConfigMap", volume["configMap"]["name"])["data"]
    (folder / path.name).write_text(data[path.name])
    return str(folder / path.name)


def test_registry_reads_its_database_and_s3_settings(objects, tmp_path):
    app = RegistryApp()
    app.initialize(["--config", config_file(objects, "registry", tmp_path)])
    storage = app.make_storage()
    assert isinstance(storage, S3Storage)
    production = storage.bucket != "mllab"
    if production:
        assert app.db_url == ("postgresql+psycopg://mllab@mllab.abc123.eu-central-1.rds.amazonaws.com:5432/mllab"
                              "?sslmode=require")
        assert storage.endpoint_url == "https://s3.eu-central-1.amazonaws.com" and storage.region == "eu-central-1"
        assert app.stream is False
    else:
        assert app.db_url == "postgresql+psycopg://mllab@mllab-postgresql:5432/mllab"
        assert storage.endpoint_url == "http://mllab-minio:9000"
        assert app.stream is True, "browsers cannot reach the bundled MinIO: bytes go through the registry"
    assert "password" not in json.dumps(find(objects, "ConfigMap", "mllab-registry")["data"]).lower()


def deployments_app(objects: list[dict], folder: Path) -> DeploymentsApp:
    app = DeploymentsApp()
    app.initialize(["--config", config_file(objects, "deployments", folder)])
    return app


def test_deployments_runs_workloads_in_the_release_namespace(objects, tmp_path):
    app = deployments_app(objects, tmp_path)
    runtime = app.make_runtime()
    assert app.runtime == "kubernetes" and runtime.namespace == NAMESPACE
    assert app.registry_url == "http://mllab-registry:8080/services/registry/"
    assert runtime.platform_url == "http://proxy-public/"
    # Model pods pull with the deployments service's own token, from z2jh's hub Secret.
    init = runtime.manifests(MODEL)[-1]["spec"]["template"]["spec"]["initContainers"][0]
    token = next(e for e in init["env"] if e["name"] == "MLLAB_TOKEN")
    assert token["valueFrom"]["secretKeyRef"] == {"name": "hub", "key": "hub.services.deployments.apiToken"}


def role_grants(role: dict) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


async def test_role_grants_exactly_what_the_runtime_calls(objects, tmp_path):
    """Every call of a workload's life (start, state, list, logs, stop) is allowed by the Role,
    and the Role allows nothing the runtime does not call."""
    runtime = deployments_app(objects, tmp_path).make_runtime()
    async with ApiClient() as api_client:
        cluster = FakeCluster(api_client)
        runtime.apis = cluster
        for workload in (MODEL, SERVICE, JOB):
            handle = await runtime.start(workload)
            cluster.add_pod(workload.id, f"{workload.id}-0", {"phase": "Running"}, log="ready\n")
            await runtime.state(handle)
            await runtime.list()
            await runtime.logs(handle)
            await runtime.stop(handle)
    verbs = {"read": "get", "log": "get"}
    called = {(*RESOURCES[kind], verbs.get(verb, verb)) if verb != "log" else ("", "pods/log", "get")
              for verb, kind, _ in cluster.calls}
    role = find(objects, "Role", "mllab-deployments")
    assert role_grants(role) == called
    assert role["metadata"].get("namespace") in (None, NAMESPACE), "a Role of the release's namespace only"
    assert not [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_only_the_deployments_pod_has_the_role(objects):
    binding = find(objects, "RoleBinding", "mllab-deployments")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "mllab-deployments"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "mllab-deployments", "namespace": NAMESPACE}]
    assert find(objects, "Deployment", "mllab-deployments")["spec"]["template"]["spec"]["serviceAccountName"] == \
        "mllab-deployments"
    for kind, name in (("Deployment", "mllab-registry"), ("StatefulSet", "mllab-postgresql"),
                       ("StatefulSet", "mllab-minio")):
        if any(o["metadata"]["name"] == name for o in objects):
            assert find(objects, kind, name)["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def admitted(policy: dict, pods_by_name: dict[str, dict]) -> set[str]:
    """The pods of ``pods_by_name`` (name -> labels) that ``policy`` lets in."""
    peers = [peer for rule in policy["spec"].get("ingress") or [] for peer in rule["from"]]
    assert all(set(peer) == {"podSelector"} for peer in peers), "only pods of this namespace are named"
    return {name for name, labels in pods_by_name.items()
            if any(matches(peer["podSelector"]["matchLabels"], labels) for peer in peers)}


def pod_labels(objects: list[dict]) -> dict[str, dict]:
    """Every pod that may knock: the chart's, z2jh's, and a deployed model's."""
    labels = dict(Z2JH_PODS)
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            labels[obj["metadata"]["labels"]["app.kubernetes.io/component"]] = obj["spec"]["template"]["metadata"][
                "labels"]
    return labels


@pytest.mark.parametrize(
    ("component", "allowed"),
    [("registry", {"proxy", "deployments", "hub"}), ("deployments", {"proxy", "hub"}),
     ("postgresql", {"registry", "deployments", "hub"}), ("minio", {"registry"})],
)
def test_network_policies_admit_only_whom_they_should(install_name, objects, component, allowed):
    if component in ("postgresql", "minio") and not bundled(install_name, component):
        # External: no pod of it in the cluster, so nothing of the chart's to guard it.
        assert not [o for o in objects if o["metadata"]["name"] == f"mllab-{component}"
                    and o["kind"] in ("StatefulSet", "NetworkPolicy")]
        return
    policy = find(objects, "NetworkPolicy", f"mllab-{component}")
    everyone = pod_labels(objects)
    assert matches(policy["spec"]["podSelector"]["matchLabels"], everyone[component])
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert admitted(policy, everyone) == allowed


async def test_deployed_models_admit_only_the_proxy_and_the_deployments_service(objects, tmp_path):
    runtime = deployments_app(objects, tmp_path).make_runtime()
    everyone = pod_labels(objects)
    for workload in (MODEL, SERVICE):
        policy = runtime.manifests(workload)[0]
        assert policy["kind"] == "NetworkPolicy"
        assert admitted(policy, everyone) == {"proxy", "deployments"}
