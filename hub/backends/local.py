"""Workspaces as local processes: the embedded default (entry point ``mllab-local``).

Every workspace runs as the hub's own OS user, so users are not isolated from each other;
the Docker and Kubernetes backends isolate them.
"""

from __future__ import annotations

import getpass
import os
import shutil
import sys
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import Bool, List, Unicode, default
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

    extra_path = List(
        Unicode(),
        help="""
        Folders put first on the workspaces' ``PATH``, where their tools are looked up.

        By default the hub's own Python's scripts (``tensorboard``, ``mllab``, ...) and the
        checkout's ``.tools/bin`` when ``make tools`` made it (``code-server``). A tool whose
        program is on none of them shows what to install instead.

            c.MLLabLocalSpawner.extra_path = ["/opt/code-server/bin"]
        """,
    ).tag(config=True)

    @default("extra_path")
    def _default_extra_path(self) -> list[str]:
        folders = [str(Path(sys.executable).parent)]
        tools = Path(__file__).resolve().parents[2] / ".tools" / "bin"
        if tools.is_dir():
            folders.append(str(tools))
        return folders

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        if self.extra_path:
            env["PATH"] = os.pathsep.join([*self.extra_path, env.get("PATH") or os.defpath])
        return env

    @default("cmd")
    def _default_cmd(self) -> list[str]:
        # The server of the hub's own Python environment, whatever PATH the hub was started with.
        return [sys.executable, "-m", "jupyterhub.singleuser"]

    async def engine_check(self) -> str:
        program = shutil.which(self.cmd[0], path=os.pathsep.join([*self.extra_path, os.environ.get("PATH", "")]))
        if not program:
            raise FileNotFoundError(f"{self.cmd[0]} is not on the workspaces' PATH")
        return f"local processes of {getpass.getuser()}, {program}"

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
