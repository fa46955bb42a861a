"""Workspaces as Kubernetes pods (KubeSpawner), as the helm chart runs them.

KubeSpawner shows the profiles on the spawn page and refuses a profile not in its list; a
user cannot name an image or resources of their own.  Each user's home is a PVC, created on
first start, kept when the pod stops, and deleted by KubeSpawner when the user is deleted.
"""

from __future__ import annotations

from traitlets.config import Config

from ..platform import MLLab
from .profiles import kubespawner_profile_list, parse_profiles

#: The image's non-root user (``images/workspace/Dockerfile``).
WORKSPACE_UID = 1000


def kubernetes_config(mllab: MLLab) -> Config:
    """KubeSpawner settings for ``MLLab.backend = "kubernetes"``."""
    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.JupyterHub.hub_ip = "0.0.0.0"
    s = c.KubeSpawner
    s.image = mllab.workspace_image
    s.profile_list = kubespawner_profile_list(parse_profiles(mllab.profiles, mllab.workspace_image))
    s.hub_connect_url = mllab.kubernetes_hub_url
    s.default_url = "/lab"
    s.notebook_dir = mllab.workspace_home
    s.working_dir = mllab.workspace_home

    s.storage_pvc_ensure = True
    s.pvc_name_template = mllab.kubernetes_pvc_name_template
    s.storage_capacity = mllab.kubernetes_home_size
    s.storage_access_modes = ["ReadWriteOnce"]
    if mllab.kubernetes_storage_class:
        s.storage_class = mllab.kubernetes_storage_class
    s.delete_pvc = True
    s.volumes = [{"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}]
    s.volume_mounts = [{"name": "home", "mountPath": mllab.workspace_home}]

    # Non-root, no privilege escalation, no Linux capabilities, the runtime's seccomp profile.
    s.uid = WORKSPACE_UID
    s.gid = WORKSPACE_UID
    s.fs_gid = WORKSPACE_UID
    s.allow_privilege_escalation = False
    s.container_security_context = {
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    s.common_labels = {"app.kubernetes.io/part-of": "mllab"}
    return c
