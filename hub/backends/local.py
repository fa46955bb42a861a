"""Workspaces as local processes: the embedded default.

Every workspace runs as the hub's own OS user, so users are not isolated from each other;
the Docker and Kubernetes backends isolate them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from traitlets.config import Config

from ..platform import MLLab


def local_config(mllab: MLLab) -> Config:
    c = Config()
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(Path(mllab.data_dir) / "users" / "{username}")
    # The server of the hub's own Python environment, whatever PATH the hub was started with.
    c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
    c.Spawner.default_url = "/lab"
    if mllab.allow_root:
        c.Spawner.args = ["--allow-root"]
    return c
