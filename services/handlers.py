"""Base request handlers of the services: hub authentication, scope checks, paging, 503s, JSON in and out."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

from jupyterhub.services.auth import HubOAuthenticated
from tornado.web import RequestHandler

from .db import DatabaseUnavailable
from .errors import APIError, error_body
from .metrics import observe_request
from .openapi import implemented_methods
from .paging import DEFAULT_LIMIT, MAX_LIMIT, PageRequest, decode_cursor
from .permissions import Permissions, parse_namespace


class JSONHandler(RequestHandler):
    """Answers in JSON, errors included; every answered request is counted in the metrics."""

    #: The pattern of the route answered (``/api/v1/uploads/{upload_id}``): the metrics' label.
    route = ""
    #: Bytes of a streamed body (``@stream_request_body`` handlers add them as they arrive).
    bytes_streamed = 0
    _bytes_sent = 0

    def initialize(self, route: str = "") -> None:
        self.route = route

    def flush(self, include_footers: bool = False) -> Awaitable[None]:
        # Tornado keeps no count of what it sends; what this flush sends is its write buffer.
        if self.request.method != "HEAD":
            self._bytes_sent += sum(len(chunk) for chunk in self._write_buffer)
        return super().flush(include_footers)

    def on_finish(self) -> None:
        observe_request(self, self.route, len(self.request.body) or self.bytes_streamed, self._bytes_sent)

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json; charset=utf-8")
        if status_code == 405:
            self.set_header("Allow", ", ".join(implemented_methods(type(self))))
        self.finish(json.dumps(error_body(status_code, exc)))

    def get_json_body(self) -> dict:
        """The request body as a JSON object, or a 400 saying what is wrong with it."""
        if not self.request.body:
            raise APIError(400, "Request body is empty; send a JSON object.")
        try:
            body = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise APIError(400, f"Request body is not valid JSON: {e}") from None
        if not isinstance(body, dict):
            raise APIError(400, "Request body must be a JSON object.")
        return body


class PublicHandler(JSONHandler):
    """A route anyone may call: health and the API description, which hold no data."""


class APIHandler(HubOAuthenticated, JSONHandler):
    """A route that needs a hub user: token (``Authorization: token ...``) or hub login cookie.

    Scopes are checked by the handler (``require``), per namespace, not by HubAuth.
    XSRF is HubAuth's: a write authenticated by the cookie needs the ``_xsrf`` token (else
    HubAuth identifies nobody: 401); a request authenticated by its own token needs none.
    An ``Authorization`` header that authenticates nobody does not waive the check.

    An exception of a class in `unavailable` (a backend the service needs is down) answers
    503 with `unavailable_message` and is logged as a warning, without a traceback; so does a
    database that does not answer, for every service.
    """

    unavailable: tuple[type[Exception], ...] = ()

    @property
    def hub_scopes(self) -> None:
        return None

    def prepare(self) -> None:
        if self.current_user is None:
            raise APIError(401, "Authentication required: send a JupyterHub token (Authorization: token <token>).")

    @property
    def permissions(self) -> Permissions:
        return Permissions.from_model(self.current_user)

    def require(self, kind: str, action: str, namespace: str) -> None:
        """403 unless the user may do ``action`` on ``kind`` in ``namespace``."""
        try:
            parse_namespace(namespace)
        except ValueError as e:
            raise APIError(400, str(e)) from None
        if not self.permissions.can(kind, action, namespace):
            raise APIError(
                403,
                f"{self.current_user['name']} may not {action} {kind} in {namespace} "
                f"(needs custom:{kind}:{action} on that namespace).",
            )

    def paging(self) -> PageRequest:
        """``?limit=`` (default 50, at most `MAX_LIMIT`) and ``?after=`` (the ``next`` of the page before)."""
        if self.get_query_argument("offset", None) is not None:
            raise APIError(400, "Lists page by cursor: pass after=<the next of the page before>, not offset.")
        try:
            limit = int(self.get_query_argument("limit", str(DEFAULT_LIMIT)))
        except ValueError:
            raise APIError(400, "limit must be an integer.") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise APIError(400, f"limit must be 1-{MAX_LIMIT}.")
        after = self.get_query_argument("after", None)
        return PageRequest(limit, decode_cursor(after) if after else None)

    def unavailable_message(self, exc: Exception) -> str:
        """What a 503 for ``exc`` (one of `unavailable`) tells the caller."""
        return str(exc)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, (DatabaseUnavailable, *self.unavailable)):
            message = str(exc) if isinstance(exc, DatabaseUnavailable) else self.unavailable_message(exc)
            self.set_status(503)
            self.finish({"error": "unavailable", "message": message})
            return
        super().write_error(status_code, **kwargs)

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, (DatabaseUnavailable, *self.unavailable)):
            self.log.warning("%s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)
