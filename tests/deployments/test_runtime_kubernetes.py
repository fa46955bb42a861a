"""``KubernetesRuntime``: the objects it renders, and the calls it makes, without a cluster.

No Kubernetes cluster exists on the test machines.  So the objects a workload becomes
(NetworkPolicy, Service, Deployment or Job) are validated against the Kubernetes OpenAPI
schemas with ``kubernetes-validate`` and checked for what matters (security, the model's
init container and token, who may connect), and ``start``/``list``/``state``/``logs``/``stop``
run against an in-memory stand-in of the API objects (`FakeCluster`), which answers with the
client library's own model objects and errors (404, 409, 422, 403, a dropped connection).
"""

from __future__ import annotations

import copy
import json

import aiohttp
import kubernetes_validate
import pytest
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException
from mllab.hub.backends.resources import Resources
from mllab.services.deployments.runtimes.base import Handle, RuntimeUnavailable, State, Workload, WorkloadError
from mllab.services.deployments.runtimes.kubernetes import KubernetesRuntime

K8S_VERSION = "1.30"
NAMESPACE = "mllab"
MODEL = Workload(id="mllab-m-users-alice-iris-1", kind="model", namespace="users/alice", name="iris",
                 model_ref="users/alice/iris:3", resources=Resources(cpu_limit=1, mem_limit=2**30), replicas=2)
SERVICE = Workload(id="mllab-s-groups-team-web-1", kind="service", namespace="groups/team", name="web",
                   image="registry.example.org/team/web:1.0", command=["serve", "--port", "8000"], port=8000,
                   env={"GREETING": "hi"})
JOB = Workload(id="mllab-j-users-alice-etl-1", kind="job", namespace="users/alice", name="etl",
               image="registry.example.org/alice/etl:2", command=["python", "etl.py"])
KINDS = {"network_policy": "NetworkPolicy", "service": "Service", "deployment": "Deployment", "job": "Job"}
MODEL_TYPES = {"NetworkPolicy": "V1NetworkPolicy", "Service": "V1Service", "Deployment": "V1Deployment",
               "Job": "V1Job", "Pod": "V1Pod"}


class _Raw:
    def __init__(self, data) -> None:
        self.data = json.dumps(data)


class FakeLogResponse:
    """What ``read_namespaced_pod_log(..., follow=True, _preload_content=False)`` returns (aiohttp's)."""

    def __init__(self, text: str) -> None:
        self.content = self
        self.chunks = [text.encode()[i:i + 7] for i in range(0, len(text.encode()), 7)]
        self.released = False

    async def iter_any(self):
        for chunk in self.chunks:
            yield chunk

    def release(self) -> None:
        self.released = True


class FakeCluster:
    """The ``apps``, ``core``, ``networking`` and ``batch`` API objects the runtime calls, in memory.

    Answers are deserialized into kubernetes_asyncio's model classes, as the real client's are.
    ``linger``: how many reads still find an object after its (foreground) deletion began.
    """

    def __init__(self, api_client: ApiClient) -> None:
        self.api_client = api_client
        self.objects: dict[tuple[str, str], dict] = {}
        self.pods: dict[str, dict] = {}
        self.logs: dict[str, str] = {}
        self.calls: list[tuple[str, str, str]] = []
        self.linger = 0
        self._lingering: dict[tuple[str, str], int] = {}
        self.fail_with: int | None = None
        self.unreachable = False
        self.apps = self.core = self.networking = self.batch = self

    def _model(self, data: dict, kind: str, listing: bool = False):
        return self.api_client.deserialize(_Raw(data), MODEL_TYPES[kind] + ("List" if listing else ""))

    def _check(self, verb: str, kind: str, name: str, namespace: str) -> None:
        if self.unreachable:
            raise aiohttp.ServerDisconnectedError()
        assert namespace == NAMESPACE
        self.calls.append((verb, kind, name))
        if self.fail_with:
            raise ApiException(status=self.fail_with, reason="Refused")

    def __getattr__(self, attr: str):
        verb, _, noun = attr.partition("_namespaced_")
        if noun not in KINDS or verb not in ("create", "read", "delete", "list"):
            raise AttributeError(attr)
        return getattr(self, f"_{verb}")(KINDS[noun])

    def _create(self, kind):
        async def create(namespace, body):
            self._check("create", kind, body["metadata"]["name"], namespace)
            assert body["kind"] == kind and body["metadata"]["namespace"] == namespace
            key = (kind, body["metadata"]["name"])
            if key in self.objects:
                raise ApiException(status=409, reason="AlreadyExists")
            self.objects[key] = copy.deepcopy(body)
            return self._model(body, kind)

        return create

    def _read(self, kind):
        async def read(name, namespace):
            self._check("read", kind, name, namespace)
            key = (kind, name)
            if key in self._lingering:
                self._lingering[key] -= 1
                if self._lingering[key] < 0:
                    del self._lingering[key]
                    del self.objects[key]
            if key not in self.objects:
                raise ApiException(status=404, reason="NotFound")
            return self._model(self.objects[key], kind)

        return read

    def _delete(self, kind):
        async def delete(name, namespace, propagation_policy=None):
            self._check("delete", kind, name, namespace)
            assert propagation_policy == "Foreground"
            key = (kind, name)
            if key not in self.objects or key in self._lingering:
                raise ApiException(status=404, reason="NotFound")
            if kind in ("Deployment", "Job"):
                for pod in [p for p, body in self.pods.items() if body["metadata"]["labels"].get(
                        "mllab.org/workload") == name]:
                    del self.pods[pod]
            if self.linger:
                self._lingering[key] = self.linger
            else:
                del self.objects[key]

        return delete

    def _list(self, kind):
        async def list_objects(namespace, label_selector):
            self._check("list", kind, label_selector, namespace)
            items = [body for (k, _), body in self.objects.items() if k == kind and _selects(label_selector, body)]
            return self._model({"items": items, "metadata": {}}, kind, listing=True)

        return list_objects

    # --- pods, which the runtime only reads ---

    def add_pod(self, workload_id: str, name: str, status: dict, log: str = "") -> None:
        self.pods[name] = {"metadata": {"name": name, "namespace": NAMESPACE, "labels": {
            "mllab.org/workload": workload_id}}, "spec": {"containers": [{"name": "main", "image": "x"}]},
            "status": status}
        self.logs[name] = log

    async def list_namespaced_pod(self, namespace, label_selector):
        self._check("list", "Pod", label_selector, namespace)
        items = [body for body in self.pods.values() if _selects(label_selector, body)]
        return self._model({"items": items, "metadata": {}}, "Pod", listing=True)

    async def read_namespaced_pod_log(self, name, namespace, container, tail_lines=None, follow=False,
                                      _preload_content=True):
        self._check("log", "Pod", name, namespace)
        assert container == "main"
        if name not in self.logs:
            raise ApiException(status=404, reason="NotFound")
        text = self.logs[name]
        if follow:
            assert _preload_content is False
            return FakeLogResponse(text)
        if tail_lines is not None:
            text = "".join(text.splitlines(keepends=True)[-tail_lines:])
        return text

    def set_status(self, kind: str, name: str, status: dict) -> None:
        self.objects[(kind, name)]["status"] = status


def _selects(selector: str, body: dict) -> bool:
    labels = body["metadata"].get("labels") or {}
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if key not in labels or (value and labels[key] != value):
            return False
    return True


@pytest.fixture
async def cluster():
    async with ApiClient() as api_client:
        yield FakeCluster(api_client)


@pytest.fixture
def runtime(cluster) -> KubernetesRuntime:
    return KubernetesRuntime(namespace=NAMESPACE, apis=cluster, model_image="registry.example.org/model-server:1",
                             stop_timeout=20)


def objects(runtime: KubernetesRuntime, workload: Workload) -> dict[str, dict]:
    rendered = runtime.manifests(workload)
    for obj in rendered:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    return {obj["kind"]: obj for obj in rendered}


def containers(pod_spec: dict) -> dict[str, dict]:
    return {c["name"]: c for c in pod_spec.get("initContainers", []) + pod_spec["containers"]}


# --- rendered objects ---------------------------------------------------------------------------


@pytest.mark.parametrize("workload", [MODEL, SERVICE, JOB], ids=["model", "service", "job"])
def test_objects_are_valid_and_labelled(runtime, workload):
    rendered = runtime.manifests(workload)
    expected = ["NetworkPolicy", "Job"] if workload.kind == "job" else ["NetworkPolicy", "Service", "Deployment"]
    assert [obj["kind"] for obj in rendered] == expected  # the policy exists before any pod
    for obj in rendered:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        assert obj["metadata"]["name"] == workload.id and obj["metadata"]["namespace"] == NAMESPACE
        assert obj["metadata"]["labels"] == {"app.kubernetes.io/part-of": "mllab", "mllab.org/workload": workload.id,
                                             "mllab.org/kind": workload.kind, "mllab.org/instance": "mllab"}
        assert obj["metadata"]["annotations"]["mllab.org/namespace"] == workload.namespace


@pytest.mark.parametrize("workload", [MODEL, SERVICE, JOB], ids=["model", "service", "job"])
def test_pods_are_hardened(runtime, workload):
    rendered = objects(runtime, workload)
    template = (rendered.get("Deployment") or rendered["Job"])["spec"]["template"]
    assert template["metadata"]["labels"]["mllab.org/workload"] == workload.id
    spec = template["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {"fsGroup": 1000}
    for container in containers(spec).values():
        context = container["securityContext"]
        assert context["runAsUser"] == 1000 and context["runAsNonRoot"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not context.get("privileged")


def test_model_pulls_its_version_with_the_token_from_the_secret(runtime):
    rendered = objects(runtime, MODEL)
    spec = rendered["Deployment"]["spec"]["template"]["spec"]
    assert rendered["Deployment"]["spec"]["replicas"] == 2
    fetch, main = spec["initContainers"][0], spec["containers"][0]
    assert fetch["image"] == main["image"] == "registry.example.org/model-server:1"
    assert fetch["command"] == ["mllab", "models", "pull", "--quiet", "users/alice/iris:3", "/mnt/model"]
    assert {"name": "MLLAB_URL", "value": "http://proxy-public/"} in fetch["env"]
    assert {"name": "MLLAB_TOKEN", "valueFrom": {"secretKeyRef": {"name": "mllab-deployments-pull",
                                                                  "key": "token"}}} in fetch["env"]
    assert fetch["volumeMounts"] == [{"name": "model", "mountPath": "/mnt/model"}]
    # The server gets the files read-only, and never the token.
    assert main["volumeMounts"] == [{"name": "model", "mountPath": "/mnt/model", "readOnly": True}]
    assert "MLLAB_TOKEN" not in json.dumps(main)
    assert spec["volumes"] == [{"name": "model", "emptyDir": {}}]
    assert main["args"] == ["--model-dir", "/mnt/model", "--name", "iris", "--host", "0.0.0.0", "--port", "8080"]
    assert main["ports"] == [{"containerPort": 8080, "name": "http"}]
    assert main["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": 8080}
    assert main["resources"]["limits"] == {"cpu": 1.0, "memory": 2**30}
    assert spec["restartPolicy"] == "Always"


def test_a_models_own_image_serves_but_does_not_fetch(runtime):
    """A deployment's own image runs the server; the platform's image (trusted with the token) fetches."""
    own = Workload(**{**MODEL.__dict__, "image": "registry.example.org/alice/xgb-server:1"})
    spec = objects(runtime, own)["Deployment"]["spec"]["template"]["spec"]
    assert spec["containers"][0]["image"] == "registry.example.org/alice/xgb-server:1"
    assert spec["initContainers"][0]["image"] == "registry.example.org/model-server:1"


def test_only_the_proxy_and_the_service_may_connect(runtime):
    rendered = objects(runtime, MODEL)
    policy = rendered["NetworkPolicy"]["spec"]
    assert policy["podSelector"] == {"matchLabels": {"mllab.org/workload": MODEL.id}}
    assert policy["policyTypes"] == ["Ingress"]
    assert policy["ingress"] == [{
        "from": [{"podSelector": {"matchLabels": {"component": "proxy"}}},
                 {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "deployments"}}}],
        "ports": [{"protocol": "TCP", "port": 8080}],
    }]
    service = rendered["Service"]["spec"]
    assert service["type"] == "ClusterIP"
    assert service["selector"] == {"mllab.org/workload": MODEL.id}
    assert service["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080, "targetPort": 8080}]


def test_service_pods(runtime):
    rendered = objects(runtime, SERVICE)
    main = rendered["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert main["image"] == "registry.example.org/team/web:1.0"
    assert main["args"] == ["serve", "--port", "8000"]
    assert {"name": "PORT", "value": "8000"} in main["env"] and {"name": "GREETING", "value": "hi"} in main["env"]
    assert {"name": "HOST", "value": "0.0.0.0"} in main["env"]  # the pod's own addresses, behind its NetworkPolicy
    assert main["readinessProbe"]["tcpSocket"] == {"port": 8000}
    assert rendered["Service"]["spec"]["ports"][0]["port"] == 8000
    assert rendered["NetworkPolicy"]["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_job_runs_once_and_lets_nothing_in(runtime):
    rendered = objects(runtime, JOB)
    spec = rendered["Job"]["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    main = spec["template"]["spec"]["containers"][0]
    assert main["args"] == ["python", "etl.py"] and "ports" not in main
    assert rendered["NetworkPolicy"]["spec"]["ingress"] == []


@pytest.mark.parametrize(
    ("workload", "error"),
    [
        (Workload(id="mllab-m-a-1", kind="model", namespace="users/a", name="a", model_dir="/srv/m"),
         "has no model_ref"),
        (Workload(id="mllab-s-a-1", kind="service", namespace="users/a", name="a", command=["x"], port=80),
         "needs an image"),
        (Workload(id="mllab-s-a-1", kind="service", namespace="users/a", name="a", image="x:1"),
         "needs the port"),
    ],
    ids=["model-without-ref", "service-without-image", "service-without-port"],
)
async def test_refused_before_anything_is_sent(runtime, cluster, workload, error):
    with pytest.raises(WorkloadError, match=error):
        await runtime.start(workload)
    assert cluster.calls == []


# --- calls against the stand-in API -------------------------------------------------------------


async def test_start_list_stop(runtime, cluster):
    handle = await runtime.start(MODEL)
    assert [c for c in cluster.calls if c[0] == "create"] == [
        ("create", "NetworkPolicy", MODEL.id), ("create", "Service", MODEL.id), ("create", "Deployment", MODEL.id)]
    assert handle == Handle(MODEL.id, {"namespace": NAMESPACE, "kind": "model",
                                       "objects": ["NetworkPolicy", "Service", "Deployment"], "port": 8080},
                            f"http://{MODEL.id}.{NAMESPACE}.svc:8080")
    job = await runtime.start(JOB)
    assert job.url is None

    # After a restart of the service: found by label, with the same handles.
    restarted = KubernetesRuntime(namespace=NAMESPACE, apis=cluster)
    found = {h.workload_id: h for h in await restarted.list()}
    assert found[MODEL.id] == handle
    assert found[JOB.id].ref["objects"] == ["NetworkPolicy", "Job"] and found[JOB.id].ref["kind"] == "job"
    assert await KubernetesRuntime(namespace=NAMESPACE, apis=cluster, instance="other").list() == []

    cluster.add_pod(MODEL.id, f"{MODEL.id}-abc-1", {"phase": "Running"})
    assert await restarted.state(handle) == State("running")
    cluster.calls.clear()
    cluster.linger = 2  # foreground deletion: the objects stay a moment
    await restarted.stop(handle)
    deletes = [c for c in cluster.calls if c[0] == "delete"]
    assert deletes == [("delete", "Deployment", MODEL.id), ("delete", "Service", MODEL.id),
                       ("delete", "NetworkPolicy", MODEL.id)]
    assert not [key for key in cluster.objects if key[1] == MODEL.id]
    assert not cluster.pods
    assert await restarted.state(handle) == State("gone")
    assert [h.workload_id for h in await restarted.list()] == [JOB.id]
    await restarted.stop(handle)  # idempotent


async def test_start_replaces_the_same_id(runtime, cluster):
    await runtime.start(JOB)
    cluster.calls.clear()
    await runtime.start(JOB)
    assert cluster.calls[:4] == [("create", "NetworkPolicy", JOB.id), ("delete", "NetworkPolicy", JOB.id),
                                 ("read", "NetworkPolicy", JOB.id), ("create", "NetworkPolicy", JOB.id)]
    assert ("delete", "Job", JOB.id) in cluster.calls


async def test_job_state_and_logs(runtime, cluster):
    handle = await runtime.start(JOB)
    pod = f"{JOB.id}-x7k2p"
    cluster.add_pod(JOB.id, pod, {"phase": "Running", "containerStatuses": [
        {"name": "main", "ready": True, "restartCount": 0, "image": "x", "imageID": "",
         "state": {"running": {}}}]}, log="hello from the job\nworking\nbye\n")
    cluster.set_status("Job", JOB.id, {"active": 1})
    assert await runtime.state(handle) == State("running")
    assert await runtime.logs(handle, tail=1) == "bye\n"
    assert await runtime.logs(handle) == "hello from the job\nworking\nbye\n"
    assert "".join([chunk async for chunk in runtime.follow(handle)]) == "hello from the job\nworking\nbye\n"

    cluster.pods[pod]["status"]["containerStatuses"][0]["state"] = {"terminated": {"exitCode": 3, "reason": "Error"}}
    cluster.set_status("Job", JOB.id, {"failed": 1})
    assert await runtime.state(handle) == State("exited", 3)
    cluster.set_status("Job", JOB.id, {"succeeded": 1})
    assert await runtime.state(handle) == State("exited", 0)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ({"phase": "Pending", "containerStatuses": [{"name": "main", "ready": False, "restartCount": 0, "image": "x",
          "imageID": "", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}}]},
         "ImagePullBackOff: no such image"),
        ({"phase": "Pending", "initContainerStatuses": [{"name": "fetch-model", "ready": False, "restartCount": 1,
          "image": "x", "imageID": "", "state": {"terminated": {"exitCode": 1, "message": "401: bad token"}}}]},
         "fetch-model failed (exit 1): 401: bad token"),
        ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
          "message": "0/3 nodes have enough nvidia.com/gpu"}]},
         "Unschedulable: 0/3 nodes have enough nvidia.com/gpu"),
        ({"phase": "Pending", "containerStatuses": [{"name": "main", "ready": False, "restartCount": 0, "image": "x",
          "imageID": "", "state": {"waiting": {"reason": "ContainerCreating"}}}]}, None),
    ],
    ids=["image-pull", "fetch-failed", "unschedulable", "starting"],
)
async def test_state_says_what_is_wrong(runtime, cluster, status, message):
    handle = await runtime.start(MODEL)
    cluster.add_pod(MODEL.id, f"{MODEL.id}-abc-1", status)
    assert await runtime.state(handle) == State("running", message=message)


async def test_logs_of_several_replicas(runtime, cluster):
    handle = await runtime.start(MODEL)
    cluster.add_pod(MODEL.id, "pod-a", {"phase": "Running"}, log="a\n")
    cluster.add_pod(MODEL.id, "pod-b", {"phase": "Running"}, log="b\n")
    assert await runtime.logs(handle) == "==> pod-a <==\na\n==> pod-b <==\nb\n"


async def test_invalid_object_is_a_workload_error(runtime, cluster):
    cluster.fail_with = 422
    with pytest.raises(WorkloadError, match="Kubernetes refused the workload"):
        await runtime.start(SERVICE)


@pytest.mark.parametrize("failure", ["unreachable", "forbidden"])
async def test_api_unavailable(runtime, cluster, failure):
    if failure == "unreachable":
        cluster.unreachable = True
    else:
        cluster.fail_with = 403
    with pytest.raises(RuntimeUnavailable):
        await runtime.list()
    with pytest.raises(RuntimeUnavailable):
        await runtime.start(SERVICE)


def test_namespace_defaults_to_the_pods_own(monkeypatch, tmp_path):
    from mllab.services.deployments.runtimes import kubernetes

    path = tmp_path / "namespace"
    monkeypatch.setattr(kubernetes, "SERVICE_ACCOUNT_NAMESPACE", path)
    assert KubernetesRuntime().namespace == "default"
    path.write_text("mllab-prod\n")
    assert KubernetesRuntime().namespace == "mllab-prod"
