"""What a pod is made of, written once for workspaces and deployments on Kubernetes.

Workspaces are rendered by KubeSpawner from its traits; `MLLabKubeSpawner` takes those
traits from here (`security_settings`, `resource_settings`, `LABELS`).  The names of those
settings are also ``kubespawner.objects.make_pod``'s arguments, so `pod_manifest`, which
renders other pods (deployments) with the same function KubeSpawner calls, gives them
the same security context and resources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .resources import Resources

if TYPE_CHECKING:
    from kubernetes_asyncio.client.models import V1Pod

#: The non-root user of the platform's images (``images/workspace/Dockerfile``).
IMAGE_UID = 1000
#: Kubernetes extended resource of NVIDIA GPUs (the NVIDIA device plugin's name).
GPU_RESOURCE = "nvidia.com/gpu"
#: Labels on every object the platform makes.
LABELS = {"app.kubernetes.io/part-of": "mllab"}


def resource_settings(resources: Resources) -> dict[str, Any]:
    """KubeSpawner traits (and ``make_pod`` arguments) that give a pod's container ``resources``.

    Limits become the container's ``limits``, guarantees its ``requests``, GPUs a
    ``nvidia.com/gpu`` limit.  Only what ``resources`` asks for is in the result.
    """
    settings: dict[str, Any] = {
        name: getattr(resources, name)
        for name in ("cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee")
        if getattr(resources, name)
    }
    if resources.gpus:
        settings["extra_resource_limits"] = {GPU_RESOURCE: str(resources.gpus)}
    return settings


def security_settings(uid: int = IMAGE_UID) -> dict[str, Any]:
    """KubeSpawner traits (and ``make_pod`` arguments) of the platform's pod security.

    Runs as ``uid`` (also the group and the volumes' fsGroup), non-root, without privilege
    escalation or Linux capabilities, with the runtime's default seccomp profile.
    """
    return {
        "uid": uid,
        "gid": uid,
        "fs_gid": uid,
        "allow_privilege_escalation": False,
        "container_security_context": {
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def pod_manifest(
    name: str,
    image: str,
    *,
    port: int | None,
    cmd: list[str] | None = None,
    resources: Resources = Resources(),  # noqa: B008 - frozen, so one shared default is safe
    env: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    node_selector: dict[str, str] | None = None,
    tolerations: list[dict] | None = None,
    volumes: list[dict] | None = None,
    volume_mounts: list[dict] | None = None,
    init_containers: list[dict] | None = None,
    annotations: dict[str, str] | None = None,
    container_name: str = "main",
    uid: int = IMAGE_UID,
) -> V1Pod:
    """A pod of one container of ``image``, serving on ``port`` (None: a pod that serves
    nothing, such as a job's); ``cmd`` are its arguments (after the image's entrypoint).

    With the platform's labels, security (`security_settings`) and ``resources``
    (`resource_settings`), rendered by KubeSpawner's ``make_pod``.  Serialize it with
    ``kubernetes_asyncio.client.ApiClient().sanitize_for_serialization``.
    """
    # Imported here: the Kubernetes client is heavy, and only pods need it.
    from kubespawner.objects import make_pod

    pod = make_pod(
        name=name,
        cmd=cmd,
        port=port or 0,
        image=image,
        env=dict(env or {}),
        labels={**LABELS, **(labels or {})},
        annotations=annotations,
        node_selector=node_selector,
        tolerations=tolerations,
        volumes=volumes,
        volume_mounts=volume_mounts,
        init_containers=init_containers,
        **security_settings(uid),
        **resource_settings(resources),
    )
    container = pod.spec.containers[0]
    container.name = container_name
    if port is None:
        container.ports = None
    else:
        container.ports[0].name = "http"
    return pod
