"""Workloads as Kubernetes objects in one namespace, through ``kubernetes_asyncio``.

What is created is `manifests`' (NetworkPolicy + Service + Deployment for models and services,
NetworkPolicy + Job for jobs), labelled ``mllab.org/workload`` and ``mllab.org/instance`` so
`list` finds them.  The service reaches a model or service at its Service's cluster DNS name,
``http://<workload id>.<namespace>.svc:<port>``; the NetworkPolicy admits only the proxy's
pods and the deployments service's own (`KubernetesRuntime.ingress_from`).

Models are pulled from the registry by an init container (see `manifests`), with the hub
token in the Secret `KubernetesRuntime.pull_token_secret`: the deployments service's own
token (its role has ``custom:models:read``), which the helm chart stores there.

The service needs a role in `namespace` that may create, get, list and delete deployments
(apps), jobs (batch), services, network policies (networking.k8s.io) and read pods and
their logs.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from traitlets import Any as AnyTrait
from traitlets import Dict, List, Unicode, default

from . import manifests
from .base import Handle, Runtime, RuntimeUnavailable, State, Workload, WorkloadError
from .manifests import ANNOTATION_PORT, LABEL_INSTANCE, LABEL_WORKLOAD, to_plain

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
#: Kind -> (API group attribute of `apis`, the method name's object part).
KINDS = {
    "NetworkPolicy": ("networking", "network_policy"),
    "Service": ("core", "service"),
    "Deployment": ("apps", "deployment"),
    "Job": ("batch", "job"),
}
#: Waiting reasons that are only a step on the way to running.
STARTING = {"ContainerCreating", "PodInitializing"}


def _api_exception() -> type[Exception]:
    from kubernetes_asyncio.client.exceptions import ApiException

    return ApiException


@contextlib.contextmanager
def _api_errors(action: str, creating: bool = False) -> Iterator[None]:
    """The API being unreachable (or refusing the service) becomes `RuntimeUnavailable`; an
    object it finds invalid when ``creating``, `WorkloadError`.  Other API errors pass."""
    import aiohttp

    ApiException = _api_exception()
    try:
        yield
    except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as e:
        raise RuntimeUnavailable(f"the Kubernetes API cannot be reached ({action}): {e}") from e
    except ApiException as e:
        if e.status in (401, 403):
            raise RuntimeUnavailable(f"the Kubernetes API refused the deployments service ({action}): "
                                     f"{e.status} {e.reason}; check its role") from e
        if creating and e.status in (400, 422):
            raise WorkloadError(f"Kubernetes refused the workload ({action}): {e.reason}: {e.body}") from e
        raise


class KubernetesRuntime(Runtime):
    """Runs workloads as Deployments and Jobs in a Kubernetes namespace."""

    name = "kubernetes"

    namespace = Unicode(
        help="""
        Namespace the workloads run in.

        Default: the namespace of the pod the service runs in, else ``default``.

            c.KubernetesRuntime.namespace = "mllab-deployments"
        """,
    ).tag(config=True)

    @default("namespace")
    def _default_namespace(self) -> str:
        with contextlib.suppress(OSError):
            return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
        return "default"

    model_image = Unicode(
        "mllab/model-server:latest",
        help="""
        Image that serves models (``images/model-server/Dockerfile``) unless a deployment
        names its own; it also runs the init container that pulls the model.

            c.KubernetesRuntime.model_image = "registry.example.org/mllab/model-server:0.1"
        """,
    ).tag(config=True)

    platform_url = Unicode(
        "http://proxy-public/",
        help="""
        The platform's URL from inside the cluster, where the init container of a model pod
        reaches the registry (the helm chart's proxy service).

            c.KubernetesRuntime.platform_url = "http://proxy-public.mllab.svc/"
        """,
    ).tag(config=True)

    pull_token_secret = Unicode(
        "mllab-deployments-pull",
        help="""
        Secret in `namespace` holding the hub token with which model pods pull their model
        (the deployments service's own token, whose role has ``custom:models:read``), under
        the key `pull_token_key`.  Only the init container sees it.

            c.KubernetesRuntime.pull_token_secret = "mllab-deployments-token"
        """,
    ).tag(config=True)

    pull_token_key = Unicode("token", help="The key of the token in `pull_token_secret`.").tag(config=True)

    ingress_from = List(
        Dict(),
        [{"component": "proxy"}, {"app.kubernetes.io/component": "deployments"}],
        help="""
        Label sets of the pods (in `namespace`) allowed to connect to models and services:
        the NetworkPolicy of each lets in only pods matching one of them.  Default: the
        proxy of the Zero-to-JupyterHub chart and the deployments service's pods.

            c.KubernetesRuntime.ingress_from = [{"component": "proxy"}]
        """,
    ).tag(config=True)

    apis = AnyTrait(
        None,
        allow_none=True,
        help="""
        The API objects used (``apps``, ``core``, ``networking``, ``batch``: kubernetes_asyncio's
        ``AppsV1Api``, ``CoreV1Api``, ...).  Made from the in-cluster configuration (or
        ``~/.kube/config``) at first use; tests give stand-ins.
        """,
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._api_client = None

    @property
    def settings(self) -> manifests.Settings:
        return manifests.Settings(
            namespace=self.namespace, instance=self.instance, model_image=self.model_image,
            platform_url=self.platform_url, pull_token_secret=self.pull_token_secret,
            pull_token_key=self.pull_token_key, ingress_from=[dict(s) for s in self.ingress_from],
            stop_timeout=self.stop_timeout,
        )

    def manifests(self, workload: Workload) -> list[dict[str, Any]]:
        """The objects `start` creates for ``workload`` (nothing is sent)."""
        return manifests.manifests(workload, self.settings)

    async def _connect(self) -> Any:
        if self.apis is None:
            from kubernetes_asyncio import client, config

            try:
                config.load_incluster_config()
            except config.ConfigException:
                try:
                    await config.load_kube_config()
                except (config.ConfigException, OSError) as e:
                    raise RuntimeUnavailable(f"no Kubernetes configuration (in-cluster or kubeconfig): {e}") from e
            self._api_client = api = client.ApiClient()
            self.apis = SimpleNamespace(apps=client.AppsV1Api(api), core=client.CoreV1Api(api),
                                        networking=client.NetworkingV1Api(api), batch=client.BatchV1Api(api))
        return self.apis

    async def _method(self, verb: str, kind: str) -> Callable[..., Awaitable[Any]]:
        group, noun = KINDS[kind]
        return getattr(getattr(await self._connect(), group), f"{verb}_namespaced_{noun}")

    async def _read(self, kind: str, name: str) -> dict | None:
        read = await self._method("read", kind)
        try:
            with _api_errors(f"reading {kind} {name}"):
                return to_plain(await read(name, self.namespace))
        except _api_exception() as e:
            if e.status == 404:
                return None
            raise

    # --- start ---

    async def start(self, workload: Workload) -> Handle:
        objects = self.manifests(workload)
        for obj in objects:
            kind, name = obj["kind"], obj["metadata"]["name"]
            create = await self._method("create", kind)
            try:
                with _api_errors(f"creating {kind} {name}", creating=True):
                    await create(self.namespace, obj)
            except _api_exception() as e:
                if e.status != 409:
                    raise
                # One of an earlier start with this id: replaced (a Job's pods cannot be changed in place).
                self.log.info("Replacing %s %s", kind, name)
                await self._delete(kind, name)
                with _api_errors(f"creating {kind} {name}", creating=True):
                    await create(self.namespace, obj)
        self.log.info("Started %s %s/%s as %s in namespace %s", workload.kind, workload.namespace, workload.name,
                      workload.id, self.namespace)
        return self._handle(workload.id, workload.kind, [o["kind"] for o in objects], manifests.workload_port(workload))

    def _handle(self, workload_id: str, kind: str | None, kinds: list[str], port: int | None) -> Handle:
        url = f"http://{workload_id}.{self.namespace}.svc:{port}" if port else None
        ref = {"namespace": self.namespace, "kind": kind, "objects": kinds, "port": port}
        return Handle(workload_id, ref, url)

    # --- stop ---

    async def _delete(self, kind: str, name: str) -> None:
        """Delete one object and its pods (foreground), and wait until it is gone."""
        delete = await self._method("delete", kind)
        try:
            with _api_errors(f"deleting {kind} {name}"):
                await delete(name, self.namespace, propagation_policy="Foreground")
        except _api_exception() as e:
            if e.status == 404:
                return
            raise
        patience = self.stop_timeout + 60
        deadline = time.monotonic() + patience
        while await self._read(kind, name) is not None:
            if time.monotonic() > deadline:
                raise RuntimeUnavailable(f"{kind} {name} is still being deleted after {patience:.0f}s")
            await asyncio.sleep(0.5)

    async def stop(self, handle: Handle) -> None:
        # Pods first (Deployment or Job), then what let traffic reach them; every kind when the
        # handle does not say which workload kind it is.
        kinds = {"job": ("Job", "NetworkPolicy"), "model": ("Deployment", "Service", "NetworkPolicy"),
                 "service": ("Deployment", "Service", "NetworkPolicy")}.get(
            handle.ref.get("kind"), ("Deployment", "Job", "Service", "NetworkPolicy"))
        for kind in kinds:
            await self._delete(kind, handle.workload_id)
        self.log.info("Removed workload %s from namespace %s", handle.workload_id, self.namespace)

    # --- state ---

    async def _pods(self, workload_id: str) -> list[dict]:
        list_pods = (await self._connect()).core.list_namespaced_pod
        with _api_errors(f"listing the pods of {workload_id}"):
            answer = to_plain(await list_pods(self.namespace, label_selector=f"{LABEL_WORKLOAD}={workload_id}"))
        return sorted(answer.get("items") or [], key=lambda p: p["metadata"].get("creationTimestamp") or "")

    @staticmethod
    def _problem(pods: list[dict]) -> str | None:
        """What keeps the pods from running, as Kubernetes says it."""
        for pod in pods:
            status = pod.get("status") or {}
            for init in status.get("initContainerStatuses") or []:
                terminated = (init.get("state") or {}).get("terminated") or {}
                if terminated.get("exitCode"):
                    return (f"{init['name']} failed (exit {terminated['exitCode']}): "
                            f"{terminated.get('message') or terminated.get('reason') or ''}").strip()
            for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
                waiting = (container.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") and waiting["reason"] not in STARTING:
                    return f"{waiting['reason']}: {waiting.get('message') or ''}".strip().rstrip(":")
            for condition in status.get("conditions") or []:
                if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                    return f"{condition.get('reason')}: {condition.get('message') or ''}".strip()
        return None

    @staticmethod
    def _exit_code(pods: list[dict]) -> int | None:
        for pod in reversed(pods):
            for container in (pod.get("status") or {}).get("containerStatuses") or []:
                terminated = (container.get("state") or {}).get("terminated") or {}
                if container.get("name") == "main" and "exitCode" in terminated:
                    return int(terminated["exitCode"])
        return None

    async def state(self, handle: Handle) -> State:
        job = await self._read("Job", handle.workload_id)
        if job is not None:
            status = job.get("status") or {}
            pods = await self._pods(handle.workload_id)
            if status.get("succeeded"):
                return State("exited", 0)
            if status.get("failed"):
                code = self._exit_code(pods)
                return State("exited", 1 if code is None else code, self._problem(pods))
            return State("running", message=self._problem(pods))
        if await self._read("Deployment", handle.workload_id) is not None:
            return State("running", message=self._problem(await self._pods(handle.workload_id)))
        return State("gone")

    # --- list ---

    async def list(self) -> list[Handle]:
        found: dict[str, dict[str, Any]] = {}
        for kind in KINDS:
            list_objects = await self._method("list", kind)
            with _api_errors(f"listing {kind}s"):
                answer = to_plain(await list_objects(
                    self.namespace, label_selector=f"{LABEL_INSTANCE}={self.instance},{LABEL_WORKLOAD}"))
            for obj in answer.get("items") or []:
                metadata = obj["metadata"]
                workload_id = metadata["labels"][LABEL_WORKLOAD]
                entry = found.setdefault(workload_id, {"kinds": [], "kind": None, "port": None})
                entry["kinds"].append(kind)
                entry["kind"] = entry["kind"] or metadata["labels"].get(manifests.LABEL_KIND)
                port = (metadata.get("annotations") or {}).get(ANNOTATION_PORT)
                entry["port"] = entry["port"] or (int(port) if port else None)
        return [self._handle(workload_id, entry["kind"], entry["kinds"], entry["port"])
                for workload_id, entry in sorted(found.items())]

    # --- logs ---

    async def _log_pods(self, handle: Handle) -> list[str]:
        return [pod["metadata"]["name"] for pod in await self._pods(handle.workload_id)]

    async def logs(self, handle: Handle, tail: int | None = None) -> str:
        if tail is not None and tail <= 0:
            return ""
        read_log = (await self._connect()).core.read_namespaced_pod_log
        names = await self._log_pods(handle)
        parts = []
        for name in names:
            kwargs = {"container": "main"}
            if tail is not None:
                kwargs["tail_lines"] = tail
            try:
                with _api_errors(f"reading the log of {name}"):
                    text = await read_log(name, self.namespace, **kwargs)
            except _api_exception() as e:
                if e.status not in (400, 404):
                    raise
                text = ""  # a container that has not started yet has no log
            parts.append(f"==> {name} <==\n{text}" if len(names) > 1 else text)
        return "".join(parts)

    async def follow(self, handle: Handle) -> AsyncIterator[str]:
        """The log of its newest pod (a Deployment of several replicas: of one of them)."""
        read_log = (await self._connect()).core.read_namespaced_pod_log
        deadline = time.monotonic() + 120
        while True:
            names = await self._log_pods(handle)
            if not names:
                return
            try:
                with _api_errors(f"following the log of {names[-1]}"):
                    response = await read_log(names[-1], self.namespace, container="main", follow=True,
                                              _preload_content=False)
                break
            except _api_exception() as e:
                # Not started yet: the log opens once the container runs.
                if e.status not in (400, 404):
                    raise
                if time.monotonic() > deadline:
                    return
                await asyncio.sleep(1)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            async for chunk in response.content.iter_any():
                if text := decoder.decode(chunk):
                    yield text
            if rest := decoder.decode(b"", final=True):
                yield rest
        finally:
            response.release()

    async def close(self) -> None:
        if self._api_client is not None:
            await self._api_client.close()
            self._api_client = None
            self.apis = None
