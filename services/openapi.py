"""Routes declared once, from which both Tornado's URL table and the OpenAPI document are made.

A handler method documents itself with ``@operation(...)``; ``openapi_document`` walks the
routes, so the document cannot list a route that does not exist, and a test checks the
reverse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tornado.web import RequestHandler

HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head")
_PARAM = re.compile(r"\{(\w+)(?::path)?\}")


@dataclass
class Route:
    """An API path in OpenAPI form, e.g. ``/api/v1/datasets/{namespace}``.

    ``{name}`` matches one path segment, ``{name:path}`` the rest of the path.
    """

    path: str
    handler: type[RequestHandler]
    kwargs: dict | None = None

    @property
    def pattern(self) -> str:
        def group(match: re.Match) -> str:
            body = ".+" if match.group(0).endswith(":path}") else "[^/]+"
            return f"(?P<{match.group(1)}>{body})"

        return _PARAM.sub(group, self.path)

    @property
    def openapi_path(self) -> str:
        return self.path.replace(":path}", "}")


def operation(summary: str, scope: str | None = None, **spec: Any) -> Callable:
    """Document a handler method: its summary, the scope it checks, and OpenAPI extras.

    ``scope`` is shown in the document (``x-scope``) and used by the security tests.
    """

    def mark(method: Callable) -> Callable:
        method.__openapi__ = {"summary": summary, "x-scope": scope, **spec}
        return method

    return mark


def documented_methods(handler: type[RequestHandler]) -> dict[str, dict]:
    return {
        name: getattr(handler, name).__openapi__
        for name in HTTP_METHODS
        if hasattr(getattr(handler, name, None), "__openapi__")
    }


_ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def openapi_document(title: str, version: str, prefix: str, routes: list[Route]) -> dict:
    """The OpenAPI 3.1 document of ``routes`` served under ``prefix``."""
    paths: dict[str, dict] = {}
    for route in routes:
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAM.findall(route.path)
        ]
        for method, spec in documented_methods(route.handler).items():
            spec = dict(spec)
            scope = spec.get("x-scope")
            op = {
                "summary": spec.pop("summary"),
                "parameters": params + spec.pop("parameters", []),
                "responses": {
                    "200": {"description": "OK"},
                    **spec.pop("responses", {}),
                    "4XX": _ERROR,
                },
                **spec,
            }
            if scope is None:
                op["security"] = []
            paths.setdefault(route.openapi_path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": prefix.rstrip("/")}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "hubToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "A JupyterHub token: `Authorization: token <token>`.",
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
        "security": [{"hubToken": []}],
    }
