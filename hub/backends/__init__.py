"""Where workspaces run: ``MLLab.backend`` mapped onto a spawner and its settings."""

from __future__ import annotations

from traitlets.config import Config

from ..platform import MLLab
from .local import local_config


def backend_config(mllab: MLLab) -> Config:
    """Spawner settings for ``mllab.backend``."""
    if mllab.backend == "local":
        return local_config(mllab)
    raise NotImplementedError(f"MLLab.backend = {mllab.backend!r} is not available yet")
