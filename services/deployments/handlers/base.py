"""What every deployments handler shares: the service's parts, namespace checks, logs, the runtime's 503s."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tornado.iostream import StreamClosedError

from ...errors import APIError
from ...handlers import APIHandler
from ..controller import Controller
from ..db import Database
from ..fetch import ModelFetcher
from ..runtimes.base import RuntimeUnavailable
from ..validation import Settings, check_name, check_namespace

DEFAULT_TAIL = 200
MAX_TAIL = 100_000
#: ``?follow=`` values: the first two follow.
FOLLOW = ("1", "true", "0", "false")


@dataclass
class Service:
    """The parts of the running service the handlers use (``settings["deployments"]``)."""

    db: Database
    controller: Controller
    fetcher: ModelFetcher | None
    checks: Settings
    #: Where the deployments' endpoints are served: ``<prefix>endpoints/`` or `DeploymentsApp.endpoint_url`.
    endpoints_url: str


class DeploymentsBaseHandler(APIHandler):
    log = logging.getLogger(__name__)
    unavailable = (RuntimeUnavailable,)

    @property
    def service(self) -> Service:
        return self.settings["deployments"]

    @property
    def user(self) -> str:
        return self.current_user["name"]

    def target(self, owner_kind: str, owner: str, name: str, action: str) -> str:
        """Check the path's namespace, the caller's right to ``action`` there, and the name; the namespace."""
        namespace = check_namespace(f"{owner_kind}/{owner}")
        self.require("deployments", action, namespace)
        check_name(name)
        return namespace

    def namespaces(self) -> set[str] | None:
        """The namespaces a list covers: ``?namespace=`` (checked), else all the caller may read."""
        namespace = self.get_query_argument("namespace", None)
        if namespace is not None:
            self.require("deployments", "read", check_namespace(namespace))
            return {namespace}
        namespaces = self.permissions.readable_namespaces("deployments")
        if namespaces == set():
            raise APIError(403, f"{self.user} may not read any deployments (needs custom:deployments:read).")
        return namespaces

    def log_options(self) -> tuple[int, bool]:
        """``?tail=`` (lines, default 200) and ``?follow=1``."""
        try:
            tail = int(self.get_query_argument("tail", str(DEFAULT_TAIL)))
        except ValueError:
            raise APIError(400, "tail must be a number of lines.") from None
        if not 1 <= tail <= MAX_TAIL:
            raise APIError(400, f"tail must be 1-{MAX_TAIL} lines.")
        follow = self.get_query_argument("follow", "0")
        if follow not in FOLLOW:
            raise APIError(400, "follow must be 1 or 0.")
        return tail, follow in FOLLOW[:2]

    async def write_text(self, text: str, stream: AsyncIterator[str] | None = None) -> None:
        """Answer ``text/plain``: ``text``, or what ``stream`` yields until it ends or the client goes."""
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        if stream is None:
            self.finish(text)
            return
        self._pump = asyncio.ensure_future(self._send(stream))
        try:
            await self._pump
        except (asyncio.CancelledError, StreamClosedError):
            self.log.debug("Log follower of %s went away", self.request.path)
            return
        self.finish()

    async def _send(self, stream: AsyncIterator[str]) -> None:
        try:
            async for chunk in stream:
                self.write(chunk)
                await self.flush()
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()

    def on_connection_close(self) -> None:
        # A follower that went away stops reading the log (a quiet workload writes nothing that
        # would tell us).
        pump = getattr(self, "_pump", None)
        if pump is not None:
            pump.cancel()
        super().on_connection_close()

    def unavailable_message(self, exc: Exception) -> str:
        return f"The runtime backend cannot be reached: {exc}"
