"""Python client of ML Lab Hub: ``from mllab.client import Client``.

``Client`` and the push/pull results load on first use (PEP 562): the registry service imports
:mod:`mllab.client.protocol`, and that must not import ``requests`` and ``tqdm`` with them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, IntegrityError, ManifestError, MLLabError, RefError, RegistryError
from .refs import Ref, parse_ref

if TYPE_CHECKING:
    from .artifacts import PullResult, PushResult
    from .client import Client

#: Names defined in a module of the package that imports ``requests`` (or ``tqdm``): name -> module.
_LAZY = {"Client": "client", "PullResult": "artifacts", "PushResult": "artifacts"}

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


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
