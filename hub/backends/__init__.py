"""Where workspaces run: one spawner class per backend, each a ``jupyterhub.spawners`` plug-in.

``MLLab.backend = "docker"`` is the short form of ``JupyterHub.spawner_class = "mllab-docker"``:
the entry point ``mllab-<backend>`` names the class, whose options are its own traits
(``c.MLLabDockerSpawner.*``).  A new backend is one module with an `MLLabSpawner` subclass
and one entry point.  What starts a container or renders a pod is in `containers` and
`pods`, for workspaces and deployments alike.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from traitlets.config import Config

from ..platform import MLLab
from ..scopes import SCOPES
from .base import MLLabSpawner

#: The entry point group JupyterHub loads ``JupyterHub.spawner_class`` names from.
SPAWNERS_GROUP = "jupyterhub.spawners"

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


def spawner_entry_point(backend: str) -> str:
    """The ``jupyterhub.spawners`` entry point of ``MLLab.backend = backend``."""
    return f"mllab-{backend.lower()}"


def spawner_class(backend: str) -> type[MLLabSpawner]:
    """The spawner class of ``MLLab.backend = backend``, loaded from its entry point."""
    name = spawner_entry_point(backend)
    found = entry_points(group=SPAWNERS_GROUP, name=name)
    if not found:
        installed = sorted({ep.name for ep in entry_points(group=SPAWNERS_GROUP) if ep.name.startswith("mllab-")})
        raise ValueError(f"MLLab.backend = {backend!r} has no {SPAWNERS_GROUP} entry point {name!r} "
                         f"(installed: {', '.join(installed) or 'none'}): is mllab installed?")
    cls = next(iter(found)).load()
    if not (isinstance(cls, type) and issubclass(cls, MLLabSpawner)):
        raise ValueError(f"the {SPAWNERS_GROUP} entry point {name!r} is {cls!r}, not an MLLabSpawner")
    return cls


def backend_config(mllab: MLLab, public_url: str) -> Config:
    """Spawner settings for ``mllab.backend``, without side effects.

    ``public_url`` is the hub's public URL as seen from the hub's machine
    (``http://127.0.0.1:8000/``); each backend derives from it the platform's URL as seen
    from inside a workspace.
    """
    cls = spawner_class(mllab.backend)
    c = cls.platform_settings(mllab, public_url)
    c.JupyterHub.spawner_class = spawner_entry_point(mllab.backend)
    c.Spawner.server_token_scopes = list(WORKSPACE_TOKEN_SCOPES)
    return c
