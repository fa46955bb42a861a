"""The Kubernetes objects of a workload, as plain dicts (what ``kubectl apply`` would take).

- Models and services: a ``NetworkPolicy`` (only the platform's proxy and the deployments
  service may connect, on the workload's port), a ``Service`` (ClusterIP) and a
  ``Deployment`` of ``replicas`` pods.
- Jobs: a ``NetworkPolicy`` that lets nothing in and a ``Job`` of one pod, never retried.

Pods come from `pods.pod_manifest` (KubeSpawner's ``make_pod``), so they have the workspaces'
security context: user 1000, no privilege escalation, no capabilities, the runtime's seccomp
profile, no service account token.

A model's pod fetches its files first: an init container of the model server image runs
``mllab models pull <model_ref> /mnt/model`` into an ``emptyDir`` that the server then mounts
read-only.  It authenticates with a hub token read from a Secret (`Settings.pull_token_secret`);
only the init container sees it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from mllab.hub.backends import pods

from .base import MODEL_MOUNT, MODEL_PORT, Workload, WorkloadError, model_server_args

LABEL_WORKLOAD = "mllab.org/workload"
LABEL_KIND = "mllab.org/kind"
LABEL_INSTANCE = "mllab.org/instance"
#: Annotations (their values may hold ``/``, which label values may not).
ANNOTATION_NAMESPACE = "mllab.org/namespace"
ANNOTATION_NAME = "mllab.org/name"
ANNOTATION_PORT = "mllab.org/port"
MODEL_VOLUME = "model"
#: Where a model or service listens in its pod (``$HOST``): the pod's addresses, which its
#: NetworkPolicy opens to the proxy and the deployments service only.
LISTEN_HOST = "0.0.0.0"


@dataclass(frozen=True)
class Settings:
    """What the objects depend on besides the workload (the runtime's traits)."""

    namespace: str
    instance: str
    model_image: str
    platform_url: str
    pull_token_secret: str
    pull_token_key: str = "token"
    ingress_from: list[dict[str, str]] = field(default_factory=list)
    stop_timeout: float = 10


def to_plain(obj: Any) -> Any:
    """A Kubernetes client model object (``V1Pod``, ...) as the JSON the API speaks (camelCase keys);
    dicts and lists pass through.  ``ApiClient.sanitize_for_serialization`` without an ApiClient."""
    if obj is None or isinstance(obj, (str, int, float, bool, bytes)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [to_plain(item) for item in obj]
    if isinstance(obj, (datetime.datetime, datetime.date)):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {key: to_plain(value) for key, value in obj.items()}
    return {obj.attribute_map[attr]: to_plain(getattr(obj, attr)) for attr in obj.openapi_types
            if getattr(obj, attr) is not None}


def labels(workload: Workload, settings: Settings) -> dict[str, str]:
    return {**pods.LABELS, LABEL_WORKLOAD: workload.id, LABEL_KIND: workload.kind, LABEL_INSTANCE: settings.instance}


def _metadata(workload: Workload, settings: Settings, port: int | None) -> dict[str, Any]:
    annotations = {ANNOTATION_NAMESPACE: workload.namespace, ANNOTATION_NAME: workload.name}
    if port is not None:
        annotations[ANNOTATION_PORT] = str(port)
    return {"name": workload.id, "namespace": settings.namespace, "labels": labels(workload, settings),
            "annotations": annotations}


def _security_context(uid: int = pods.IMAGE_UID) -> dict[str, Any]:
    settings = pods.security_settings(uid)
    return {"runAsUser": uid, "runAsGroup": uid, "allowPrivilegeEscalation": False,
            **settings["container_security_context"]}


def fetch_model_container(workload: Workload, settings: Settings) -> dict[str, Any]:
    """The init container that pulls the model version into the pod's model volume."""
    return {
        "name": "fetch-model",
        "image": settings.model_image,
        "command": ["mllab", "models", "pull", "--quiet", workload.model_ref, MODEL_MOUNT],
        "env": [
            {"name": "MLLAB_URL", "value": settings.platform_url},
            {"name": "MLLAB_TOKEN", "valueFrom": {"secretKeyRef": {"name": settings.pull_token_secret,
                                                                   "key": settings.pull_token_key}}},
        ],
        "volumeMounts": [{"name": MODEL_VOLUME, "mountPath": MODEL_MOUNT}],
        "securityContext": _security_context(),
    }


def workload_port(workload: Workload) -> int | None:
    if workload.kind == "model":
        return MODEL_PORT
    if workload.kind == "service":
        if not workload.port:
            raise WorkloadError(f"service {workload.name} needs the port it listens on")
        return workload.port
    return None


def pod_template(workload: Workload, settings: Settings) -> dict[str, Any]:
    """``{"metadata", "spec"}`` of the workload's pods."""
    port = workload_port(workload)
    env = dict(workload.env)
    if port is not None:
        env.update(PORT=str(port), HOST=LISTEN_HOST)
    extra: dict[str, Any] = {}
    if workload.kind == "model":
        if not workload.model_ref:
            raise WorkloadError(f"model workload {workload.id} has no model_ref to pull on Kubernetes")
        image = workload.image or settings.model_image
        args = model_server_args(workload.name, MODEL_MOUNT, LISTEN_HOST, MODEL_PORT)
        extra = {
            "volumes": [{"name": MODEL_VOLUME, "emptyDir": {}}],
            "volume_mounts": [{"name": MODEL_VOLUME, "mountPath": MODEL_MOUNT, "readOnly": True}],
            "init_containers": [fetch_model_container(workload, settings)],
        }
    else:
        if not workload.image:
            raise WorkloadError(f"the kubernetes runtime needs an image to run {workload.kind} {workload.name}")
        image, args = workload.image, list(workload.command) or None
    metadata = _metadata(workload, settings, port)
    pod = pods.pod_manifest(workload.id, image, port=port, cmd=args, resources=workload.resources, env=env,
                            labels=metadata["labels"], annotations=metadata["annotations"], **extra)
    spec = to_plain(pod)["spec"]
    spec["restartPolicy"] = "Never" if workload.kind == "job" else "Always"
    spec["terminationGracePeriodSeconds"] = int(settings.stop_timeout)
    container = spec["containers"][0]
    if workload.kind == "model":
        container["readinessProbe"] = {"httpGet": {"path": "/v2/health/ready", "port": MODEL_PORT},
                                       "periodSeconds": 2}
    elif port is not None:
        container["readinessProbe"] = {"tcpSocket": {"port": port}, "periodSeconds": 2}
    return {"metadata": {"labels": metadata["labels"], "annotations": metadata["annotations"]}, "spec": spec}


def network_policy(workload: Workload, settings: Settings) -> dict[str, Any]:
    """Only pods matching `Settings.ingress_from` may connect, on the workload's port; to a job, nothing."""
    port = workload_port(workload)
    ingress = []
    if port is not None and settings.ingress_from:
        ingress = [{
            "from": [{"podSelector": {"matchLabels": dict(selector)}} for selector in settings.ingress_from],
            "ports": [{"protocol": "TCP", "port": port}],
        }]
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": _metadata(workload, settings, port),
        "spec": {"podSelector": {"matchLabels": {LABEL_WORKLOAD: workload.id}}, "policyTypes": ["Ingress"],
                 "ingress": ingress},
    }


def service(workload: Workload, settings: Settings) -> dict[str, Any]:
    port = workload_port(workload)
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _metadata(workload, settings, port),
        "spec": {"type": "ClusterIP", "selector": {LABEL_WORKLOAD: workload.id},
                 "ports": [{"name": "http", "protocol": "TCP", "port": port, "targetPort": port}]},
    }


def deployment(workload: Workload, settings: Settings) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _metadata(workload, settings, workload_port(workload)),
        "spec": {"replicas": workload.replicas, "selector": {"matchLabels": {LABEL_WORKLOAD: workload.id}},
                 "template": pod_template(workload, settings)},
    }


def job(workload: Workload, settings: Settings) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": _metadata(workload, settings, None),
        "spec": {"backoffLimit": 0, "template": pod_template(workload, settings)},
    }


def manifests(workload: Workload, settings: Settings) -> list[dict[str, Any]]:
    """Every object of ``workload``, in the order to create them (the policy before any pod)."""
    if workload.kind == "job":
        return [network_policy(workload, settings), job(workload, settings)]
    return [network_policy(workload, settings), service(workload, settings), deployment(workload, settings)]
