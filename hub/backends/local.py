"""Workspaces as local processes: the embedded default (entry point ``mllab-local``).

Every workspace runs as the hub's own OS user, so users are not isolated from each other;
the Docker and Kubernetes backends isolate them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import Bool, default
from traitlets.config import Config

from ..platform import MLLab
from .base import MLLabSpawner


class MLLabLocalSpawner(MLLabSpawner, SimpleLocalProcessSpawner):
    """A JupyterLab process per workspace, with the hub's Python, in ``<data_dir>/users/<name>``."""

    allow_root = Bool(
        False,
        help="""
        Let workspaces run when the hub runs as root (``--allow-root``).

        Jupyter refuses to run as root unless told; workspaces here run as the hub's own
        user.  Set from ``MLLab.allow_root``.

            c.MLLabLocalSpawner.allow_root = True
        """,
    ).tag(config=True)

    @default("cmd")
    def _default_cmd(self) -> list[str]:
        # The server of the hub's own Python environment, whatever PATH the hub was started with.
        return [sys.executable, "-m", "jupyterhub.singleuser"]

    def get_args(self) -> list[str]:
        args = super().get_args()
        return [*args, "--allow-root"] if self.allow_root and "--allow-root" not in args else args

    @classmethod
    def platform_settings(cls, mllab: MLLab, public_url: str) -> Config:
        c = Config()
        s = c[cls.__name__]
        s.home_dir_template = str(Path(mllab.data_dir) / "users" / "{username}")
        s.allow_root = mllab.allow_root
        # Workspaces run on the hub's machine: they reach the platform where the hub does.
        s.platform_url = public_url
        return c
