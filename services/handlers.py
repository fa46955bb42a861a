"""Base request handlers of the services: hub authentication, scope checks, JSON in and out."""

from __future__ import annotations

import json
from typing import Any

from jupyterhub.services.auth import HubOAuthenticated
from tornado.web import RequestHandler

from .errors import APIError, error_body
from .permissions import Permissions, parse_namespace


class JSONHandler(RequestHandler):
    """Answers in JSON, errors included."""

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
    """

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
