"""Routes declared once, from which both Tornado's URL table and the OpenAPI document are made.

A handler method documents itself with ``@operation(...)``; ``openapi_document`` walks the
routes, so the document cannot list a route that does not exist, and a test checks the
reverse.  The schemas in the document (path parameters, bodies, answers) are built by each
service from the same patterns and limits its validation checks, so a request the document
calls valid is one the service accepts as well formed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tornado.web import RequestHandler

HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head")
_PARAM = re.compile(r"\{(\w+)(?::path)?\}")
JSON = "application/json"


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


def operation(summary: str, scope: str | None = None, *, body: dict | None = None, returns: dict | None = None,
              **spec: Any) -> Callable:
    """Document a handler method: its summary, the scope it checks, and OpenAPI extras.

    ``scope`` is shown in the document (``x-scope``) and used by the security tests.  ``body``
    is the JSON Schema of the request body (a JSON object), ``returns`` that of the 200 answer.
    """

    def mark(method: Callable) -> Callable:
        method.__openapi__ = {"summary": summary, "x-scope": scope, "body": body, "returns": returns, **spec}
        return method

    return mark


def documented_methods(handler: type[RequestHandler]) -> dict[str, dict]:
    return {
        name: getattr(handler, name).__openapi__
        for name in HTTP_METHODS
        if hasattr(getattr(handler, name, None), "__openapi__")
    }


def implemented_methods(handler: type[RequestHandler]) -> list[str]:
    """The HTTP methods ``handler`` answers (what a 405's ``Allow`` header lists, RFC 9110 15.5.6)."""
    return [
        method for method in handler.SUPPORTED_METHODS
        if getattr(handler, method.lower(), None) is not getattr(RequestHandler, method.lower(), None)
    ]


def ref(name: str) -> dict:
    """A reference to the named schema of the document's components."""
    return {"$ref": f"#/components/schemas/{name}"}


def anchored(pattern: re.Pattern[str]) -> str:
    """A JSON Schema ``pattern`` (ECMA-262, matched anywhere) for the whole of a string ``pattern`` fullmatches."""
    return f"^(?:{pattern.pattern})$"


def nullable(schema: dict) -> dict:
    """``schema`` or null: the services take null for an optional field as if it were left out."""
    types = schema.get("type")
    return {**schema, "type": [types, "null"]} if isinstance(types, str) else {"anyOf": [schema, {"type": "null"}]}


def page_of(item: dict) -> dict:
    """A page of a list: its ``items`` and the cursor of the ``next`` page (null on the last)."""
    return {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": item}, "limit": {"type": "integer"},
                       "next": {"type": ["string", "null"]}},
    }


def json_answer(description: str, schema: dict | None = None) -> dict:
    """A response object whose body is JSON of ``schema`` (any JSON when None)."""
    return {"description": description, "content": {JSON: {"schema": schema or {}}}}


def text_answer(description: str) -> dict:
    """A response object whose body is plain text."""
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


_ERRORS = {
    "4XX": json_answer("The request is refused; `message` says why and what to do.", ref("Error")),
}
_INCONSISTENT = json_answer(
    "The body matches its schema, but its values contradict each other (a rule no schema states, "
    "e.g. a file listed twice); `message` names them.", ref("Error"))
_UNAVAILABLE = {
    "503": json_answer("A backend the service needs (storage, runtime) cannot be reached.", ref("Error")),
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "A stable code to branch on, e.g. `not_found`."},
        "message": {"type": "string", "description": "What is wrong, for people."},
    },
    "additionalProperties": False,
}


def _parameters(path_params: list[dict], extra: list[dict]) -> list[dict]:
    """The path's parameters, replaced by an operation's own of the same name and place, then the rest."""
    own = {(p["name"], p["in"]) for p in extra}
    return [p for p in path_params if (p["name"], p["in"]) not in own] + extra


def _operation(spec: dict, path_params: list[dict]) -> dict:
    spec = dict(spec)
    scope = spec.get("x-scope")
    body, returns = spec.pop("body", None), spec.pop("returns", None)
    responses = spec.pop("responses", {})
    op: dict[str, Any] = {
        "summary": spec.pop("summary"),
        "parameters": _parameters(path_params, spec.pop("parameters", [])),
        "responses": {
            **({} if any(code.startswith("2") for code in responses) and returns is None else
               {"200": json_answer("OK", returns)}),
            **responses,
            **_ERRORS,
            **({} if scope is None else _UNAVAILABLE),
        },
        **spec,
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
        op["responses"]["422"] = _INCONSISTENT
    if scope is None:
        op["security"] = []
    return op


def openapi_document(title: str, version: str, prefix: str, routes: list[Route],
                     parameters: Mapping[str, dict] | None = None, schemas: Mapping[str, dict] | None = None) -> dict:
    """The OpenAPI 3.1 document of ``routes`` served under ``prefix``.

    ``parameters`` holds the JSON Schema of each path parameter by name (a string when not
    listed), ``schemas`` the named schemas the operations refer to with `ref`.
    """
    parameters = parameters or {}
    paths: dict[str, dict] = {}
    for route in routes:
        path_params = [
            {"name": name, "in": "path", "required": True, "schema": parameters.get(name, {"type": "string"})}
            for name in _PARAM.findall(route.path)
        ]
        for method, spec in documented_methods(route.handler).items():
            paths.setdefault(route.openapi_path, {})[method] = _operation(spec, path_params)
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
            "schemas": {"Error": ERROR_SCHEMA, **(schemas or {})},
        },
        "security": [{"hubToken": []}],
    }
