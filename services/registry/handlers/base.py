"""What every registry handler shares: the registry, the kind of each route, namespace checks."""

from __future__ import annotations

import functools
import logging
from typing import Any

from ...handlers import APIHandler
from ...openapi import documented_methods
from ...storage import StorageUnavailable
from ..context import Registry
from ..validation import check_name, check_namespace


class RegistryHandler(APIHandler):
    """A registry route; ``kind`` is set on the per-kind subclasses made by `for_kind`."""

    kind = ""
    log = logging.getLogger(__name__)
    unavailable = (StorageUnavailable,)

    @property
    def reg(self) -> Registry:
        return self.settings["registry"]

    def visible(self, kind: str, namespace: str) -> bool:
        return self.permissions.can(kind, "read", namespace)

    def artifact(self, owner_kind: str, owner: str, name: str, action: str) -> str:
        """Check the path's namespace, the caller's right to ``action`` there, and the name; the namespace."""
        namespace = check_namespace(f"{owner_kind}/{owner}")
        self.require(self.kind, action, namespace)
        check_name(name)
        return namespace

    def api_url(self, path: str) -> str:
        """Absolute URL of an API path, as the client reached the service (through the hub's proxy)."""
        prefix = self.settings["service_prefix"].rstrip("/")
        return f"{self.request.protocol}://{self.request.host}{prefix}/api/v1/{path}"


def for_kind(handler: type[RegistryHandler], kind: str) -> type[RegistryHandler]:
    """``handler`` for one artifact kind, its OpenAPI summary and scope filled in (``{kind}``)."""
    attrs: dict[str, Any] = {"kind": kind, "__module__": handler.__module__}
    for name, spec in documented_methods(handler).items():
        method = getattr(handler, name)

        @functools.wraps(method)
        def call(self, *args, _method=method, **kwargs):
            return _method(self, *args, **kwargs)

        call.__openapi__ = {
            **spec,
            "summary": spec["summary"].replace("{kind}", kind).replace("{item}", kind[:-1]),
            "x-scope": spec["x-scope"].replace("{kind}", kind),
            # A body that differs by kind is given as a function of the kind.
            "body": spec["body"](kind) if callable(spec.get("body")) else spec.get("body"),
            "tags": [kind],
        }
        attrs[name] = call
    return type(f"{kind.capitalize()}{handler.__name__}", (handler,), attrs)
