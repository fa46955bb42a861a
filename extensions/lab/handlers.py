"""The extension's routes under the server's base URL (``/user/<name>/``); docs/workspace-tools.md lists them.

Every route is a Jupyter server API route: authenticated by the hub token or login cookie of
someone allowed on this server (``access:servers``), XSRF-checked for cookie logins, and
answering errors as ``{"error", "message"}`` JSON.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from functools import partial
from http.client import responses
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .context import workspace_context
from .errors import LabError
from .passthrough import api_path, endpoint_path, forward
from .state import LabState
from .transfers import parse_request

API = "mllab/api/"


class LabHandler(APIHandler):
    """Base of the routes: the shared state, blocking work in an executor, errors as JSON."""

    auth_resource = "api"

    @property
    def lab(self) -> LabState:
        return self.settings["mllab_lab"]

    async def blocking(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args))

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exception = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exception, LabError):
            error, message = exception.error, exception.message
        elif isinstance(exception, web.HTTPError):
            error = responses.get(status_code, "error").lower().replace(" ", "_")
            message = exception.log_message or responses.get(status_code, "Error")
            if exception.args:
                message = message % exception.args
        else:
            error, message = "internal", "Unexpected error in the ML Lab server extension; the server's log has it."
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": error, "message": message}))


class ContextHandler(LabHandler):
    """``GET mllab/api/context``: the user, their namespaces, the platform's public prefixes."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        client = self.lab.client()
        self.reply(await self.blocking(workspace_context, client, self.lab.hub_base_url))


def _forwarding() -> Callable[..., Awaitable[None]]:
    @web.authenticated
    @authorized
    async def forwarding(self: ForwardingHandler, *args: str) -> None:
        await self._forward(*args)

    return forwarding


class ForwardingHandler(LabHandler):
    """Base of the routes that forward to a service, answered as it answers (JSON, or plain text)."""

    def destination(self, *args: str) -> tuple[str, str]:
        """The service and the path under its prefix (checked) that this request goes to."""
        raise NotImplementedError

    def subpath(self, route: str) -> str:
        """The path after ``mllab/api/<route>/`` raw, as the browser encoded it: the service decodes it itself."""
        prefix = url_path_join(self.base_url, API, route) + "/"
        return self.request.path[len(prefix):] if self.request.path.startswith(prefix) else ""

    async def _forward(self, *args: str) -> None:
        service, path = self.destination(*args)
        client = self.lab.client()
        answer = await self.blocking(forward, client.http, service, self.request.method, path, self.request.query,
                                     self.request.body or None, self.request.headers.get("Content-Type"))
        self.set_status(answer.status, reason=answer.reason or None)
        self.set_header("Cache-Control", "no-store")
        if answer.status == 204:
            self.finish()
            return
        self.finish(answer.body, set_content_type=answer.content_type)  # APIHandler's finish sets it

    # One decorated method per HTTP method: `authorized` keeps the action (read, write) of the first
    # request a method serves, so methods must not share one.
    get = _forwarding()
    post = _forwarding()
    put = _forwarding()
    patch = _forwarding()
    delete = _forwarding()


class ServiceHandler(ForwardingHandler):
    """``mllab/api/services/<service>/<path>``: the service's ``api/v1/<path>``."""

    def destination(self, service: str) -> tuple[str, str]:
        return service, api_path(self.subpath(f"services/{service}"))


class EndpointHandler(ForwardingHandler):
    """``mllab/api/endpoints/<owner_kind>/<owner>/<name>/<path>``: a deployment's endpoint (its model server)."""

    def destination(self) -> tuple[str, str]:
        return "deployments", endpoint_path(self.subpath("endpoints"))


class TransfersHandler(LabHandler):
    """``mllab/api/transfers``: start a push or pull (POST), list this server's (GET)."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply({"transfers": [t.view() for t in self.lab.transfers.newest_first()]})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        request = await self.blocking(parse_request, self.get_json_body(), self.lab.root_dir)
        transfer = self.lab.transfers.start(request)
        self.set_header("Location", url_path_join(self.base_url, API, "transfers", transfer.id))
        self.reply(transfer.view(), status=202)


class TransferHandler(LabHandler):
    """``GET mllab/api/transfers/<id>``: one transfer and how far it got."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def get(self, transfer_id: str) -> None:
        transfer = self.lab.transfers.get(transfer_id)
        if transfer is None:
            raise LabError(404, "not_found", f"No transfer {transfer_id!r} in this server (it forgets them when it "
                                             "restarts).")
        self.reply(transfer.view())


def handlers(base_url: str) -> list[tuple[str, type]]:
    def route(path: str) -> str:
        return url_path_join(base_url, API, path)

    return [
        (route("context"), ContextHandler),
        (route(r"services/([^/]+)(?:/.*)?"), ServiceHandler),
        (route(r"endpoints(?:/.*)?"), EndpointHandler),
        (route("transfers"), TransfersHandler),
        (route("transfers/([^/]+)"), TransferHandler),
    ]
