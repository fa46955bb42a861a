"""Where workspaces run: ``MLLab.backend`` mapped onto a spawner and its settings."""

from __future__ import annotations

from traitlets.config import Config

from ..platform import MLLab
from ..scopes import SCOPES
from .docker import docker_config
from .kubernetes import kubernetes_config
from .local import local_config

#: What a workspace's own token (``$JUPYTERHUB_API_TOKEN``) may do, intersected by the hub
#: with what its user holds: report activity, be reached, tell who and in which teams its
#: user is, and use the platform's services with the user's custom scopes (so the client
#: inside works with no configuration).  ``!server`` becomes the workspace itself.
WORKSPACE_TOKEN_SCOPES = [
    "users:activity!user",
    "access:servers!server",
    "read:users:name!user",
    "read:users:groups!user",
    "access:services",
    *(f"custom:{kind}:{action}" for kind, actions in SCOPES.items() for action in actions),
]


def backend_config(mllab: MLLab, hub_port: int) -> Config:
    """Spawner settings for ``mllab.backend``; ``hub_port`` is the hub API's port."""
    if mllab.backend == "docker":
        c = docker_config(mllab, hub_port)
    elif mllab.backend == "kubernetes":
        c = kubernetes_config(mllab)
    else:
        c = local_config(mllab)
    c.Spawner.server_token_scopes = list(WORKSPACE_TOKEN_SCOPES)
    return c


def workspace_platform_url(mllab: MLLab, public_url: str, port: int) -> str:
    """The platform's URL (proxy and services) as seen from inside a workspace."""
    if mllab.backend == "docker":
        return f"http://{mllab.docker_hub_host}:{port}/"
    if mllab.backend == "kubernetes":
        return mllab.kubernetes_platform_url.rstrip("/") + "/"
    return public_url
