"""Workspaces as Kubernetes pods (entry point ``mllab-kubernetes``), as the helm chart runs them.

KubeSpawner shows the profiles on the spawn page and refuses a profile not in its list; a
user cannot name an image or resources of their own.  Each user's home is a PVC, created on
first start, kept when the pod stops, and deleted by KubeSpawner when the user is deleted.
Security, resources and labels come from `pods`, which deployments use too.
"""

from __future__ import annotations

from kubespawner import KubeSpawner
from traitlets import default

from . import pods
from .base import MLLabContainerSpawner
from .profiles import kubespawner_profile_list, parse_profiles

_SECURITY = pods.security_settings()


class MLLabKubeSpawner(MLLabContainerSpawner, KubeSpawner):
    """KubeSpawner with the platform's profiles, a home PVC per user and non-root pods."""

    @default("platform_url")
    def _default_platform_url(self) -> str:
        # The helm chart's proxy service.
        return "http://proxy-public/"

    # --- KubeSpawner's own options, with the platform's defaults ---

    @default("hub_connect_url")
    def _default_hub_connect_url(self) -> str:
        # The helm chart's hub service.
        return "http://hub:8081"

    @default("profile_list")
    def _default_profile_list(self) -> list[dict]:
        return kubespawner_profile_list(parse_profiles(self.profiles, self.image))

    @default("working_dir")
    def _default_working_dir(self) -> str:
        return self.home_path

    @default("pvc_name_template")
    def _default_pvc_name_template(self) -> str:
        return "mllab-home-{username}"

    @default("storage_capacity")
    def _default_storage_capacity(self) -> str:
        return "10Gi"

    @default("storage_pvc_ensure")
    def _default_storage_pvc_ensure(self) -> bool:
        return True

    @default("volumes")
    def _default_volumes(self) -> list[dict]:
        return [{"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}]

    @default("volume_mounts")
    def _default_volume_mounts(self) -> list[dict]:
        return [{"name": "home", "mountPath": self.home_path}]

    @default("common_labels")
    def _default_common_labels(self) -> dict:
        return dict(pods.LABELS)

    @default("uid")
    def _default_uid(self) -> int:
        return _SECURITY["uid"]

    @default("gid")
    def _default_gid(self) -> int:
        return _SECURITY["gid"]

    @default("fs_gid")
    def _default_fs_gid(self) -> int:
        return _SECURITY["fs_gid"]

    @default("allow_privilege_escalation")
    def _default_allow_privilege_escalation(self) -> bool:
        return _SECURITY["allow_privilege_escalation"]

    @default("container_security_context")
    def _default_container_security_context(self) -> dict:
        return dict(_SECURITY["container_security_context"])

    async def engine_check(self) -> str:
        await self.api.list_namespaced_pod(self.namespace, limit=1)
        return f"Kubernetes, namespace {self.namespace}"
