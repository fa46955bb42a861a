"""Python client of ML Lab Hub: ``from mllab.client import Client``."""

from .artifacts import PullResult, PushResult
from .client import Client
from .errors import ConfigError, IntegrityError, ManifestError, MLLabError, RefError, RegistryError
from .refs import Ref, parse_ref

__all__ = [
    "Client",
    "ConfigError",
    "IntegrityError",
    "MLLabError",
    "ManifestError",
    "PullResult",
    "PushResult",
    "Ref",
    "RefError",
    "RegistryError",
    "parse_ref",
]
