"""Login: ``MLLab.auth`` mapped onto an authenticator class and its settings.

One module per way of logging in, each only filling in the defaults that differ.
"""

from __future__ import annotations

from traitlets.config import Config

from ..platform import MLLab
from .native import native_config
from .oauth import oauth_config


def authenticator_config(mllab: MLLab, hub_url: str) -> Config:
    """Authenticator settings for ``mllab.auth``; ``hub_url`` is where people reach the hub."""
    if mllab.auth == "native":
        return native_config(mllab)
    return oauth_config(mllab, hub_url)
