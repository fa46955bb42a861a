"""Calling a deployment: ``/services/deployments/endpoints/<namespace>/<name>/<path>``.

The caller's hub token (or, on the hub's origin, login cookie) must hold
``custom:deployments:invoke`` on the namespace; the request is then forwarded to the runtime and
its answer streamed back.  The runtime's own port is never handed out: this route is the only
way in.

What a deployed program answers is user content, and on the hub's origin it sits beside the
hub's cookies and pages.  So it is made inert: the caller's credentials (``Authorization``,
cookies, the XSRF token) never reach the program; its answer loses the headers that would act
on the origin (``Set-Cookie``, ``Service-Worker-Allowed``, its own CSP, ...) and gains
``Content-Security-Policy: sandbox`` (no ``allow-same-origin``: a page runs no script and
belongs to no origin) and ``X-Content-Type-Options: nosniff``.  The same holds on the
endpoint origin (`DeploymentsApp.endpoint_url`), which also takes tokens only.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

import aiohttp
from jupyterhub.services.auth import HubAuth

from ..errors import APIError
from ..handlers import APIHandler
from ..openapi import operation

log = logging.getLogger(__name__)

#: Headers that belong to one connection (RFC 9110 7.6.1); the body is streamed again.
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
}
#: Request headers that carry the caller's hub credentials, which are not the program's to use.
_REQUEST_DROPPED = _HOP_BY_HOP | {"authorization", "cookie", "x-xsrftoken", "x-csrftoken"}
#: Answer headers with which a program could act on the origin that serves it, or loosen
#: what `INERT_HEADERS` sets.
_RESPONSE_DROPPED = _HOP_BY_HOP | {
    "set-cookie", "set-cookie2", "service-worker-allowed", "clear-site-data", "refresh",
    "content-security-policy", "content-security-policy-report-only", "x-content-type-options",
    "access-control-allow-credentials",
}
#: Set on every answer of a program: a page runs no script, has an opaque origin, is not sniffed.
INERT_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
#: Seconds a runtime may take to answer one request (models can be slow; streams are long).
REQUEST_TIMEOUT = 300


@dataclass
class Target:
    """Where a deployment's requests go, and whether it takes them now."""

    url: str | None
    status: str
    last_access: datetime | None = None


class Endpoints:
    """The deployments' current targets, kept by the controller, read on every request.

    In memory: a request must not wait for the database.  The controller sets a deployment's
    target whenever its status or runtime changes (a rollout switches ``url`` in one step).
    """

    def __init__(self) -> None:
        self._targets: dict[tuple[str, str], Target] = {}

    def set(self, namespace: str, name: str, url: str | None, status: str) -> None:
        previous = self._targets.get((namespace, name))
        self._targets[(namespace, name)] = Target(url, status, previous.last_access if previous else None)

    def remove(self, namespace: str, name: str) -> None:
        self._targets.pop((namespace, name), None)

    def get(self, namespace: str, name: str) -> Target | None:
        return self._targets.get((namespace, name))

    def touch(self, namespace: str, name: str) -> None:
        target = self._targets.get((namespace, name))
        if target:
            target.last_access = datetime.now(timezone.utc)

    def last_access(self, namespace: str, name: str) -> datetime | None:
        target = self._targets.get((namespace, name))
        return target.last_access if target else None


class EndpointHandler(APIHandler):
    """Forwards any method to the deployment's runtime, after the invoke check."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    #: One pool of kept-alive connections to the runtimes for all forwarded requests: a new
    #: connection per request would cost the runtime an accept and the caller a round trip.
    _session: aiohttp.ClientSession | None = None

    @classmethod
    def session(cls) -> aiohttp.ClientSession:
        if cls._session is None or cls._session.closed:
            cls._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=REQUEST_TIMEOUT),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        return cls._session

    @classmethod
    async def close(cls) -> None:
        """Close the connection pool (at the service's shutdown)."""
        if cls._session is not None:
            await cls._session.close()
            cls._session = None

    @operation("Call the deployment: forwarded to its runtime (OIP v2 or MLflow invocations for models).",
               scope="custom:deployments:invoke",
               responses={"200": {"description": "The deployment's answer", "content": {"*/*": {}}},
                          "default": {"description": "The deployment's answer, any status", "content": {"*/*": {}}}})
    async def _forward(self, owner_kind: str, owner: str, name: str, path: str = "") -> None:
        namespace = f"{owner_kind}/{owner}"
        self.require("deployments", "invoke", namespace)
        endpoints: Endpoints = self.settings["endpoints"]
        target = endpoints.get(namespace, name)
        if target is None:
            raise APIError(404, f"No deployment {namespace}/{name}.")
        if target.status != "ready" or not target.url:
            raise APIError(503, f"Deployment {namespace}/{name} is {target.status}, not ready: "
                                "see its status and logs, or start it.")
        endpoints.touch(namespace, name)
        url = target.url.rstrip("/") + "/" + path
        if self.request.query:
            url += "?" + self.request.query
        headers = [(k, v) for k, v in self.request.headers.get_all() if k.lower() not in _REQUEST_DROPPED]
        headers.append(("X-Forwarded-Prefix", self.request.path[: len(self.request.path) - len(path)]))
        response_started = False
        try:
            async with self.session().request(
                self.request.method, url, headers=headers, data=self.request.body or None,
                allow_redirects=False, skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            ) as response:
                response_started = True
                self.clear()
                self.clear_header("Content-Type")
                self.set_status(response.status, response.reason)
                seen = set()
                for key, value in response.headers.items():
                    lower = key.lower()
                    if lower in _RESPONSE_DROPPED:
                        continue
                    if lower in seen:
                        self.add_header(key, value)
                    else:
                        self.set_header(key, value)
                        seen.add(lower)
                for key, value in INERT_HEADERS.items():
                    self.set_header(key, value)
                async for chunk in response.content.iter_any():
                    self.write(chunk)
                    await self.flush()
        except (OSError, aiohttp.ClientError, asyncio.TimeoutError) as e:
            if response_started:
                raise
            log.warning("Deployment %s/%s did not answer %s %s: %s", namespace, name, self.request.method, path, e)
            raise APIError(502, f"Deployment {namespace}/{name} did not answer: {e}") from None
        self.finish()

    get = head = post = put = patch = delete = options = _forward


class OriginEndpointHandler(EndpointHandler):
    """The endpoint proxy on the endpoint origin (`DeploymentsApp.endpoint_port`): tokens only.

    A login cookie of the hub's host may still arrive here (cookies ignore ports); it
    authenticates nobody, so no page can call a deployment with a visitor's rights.
    """

    def initialize(self, route: str = "", hub_auth: HubAuth | None = None) -> None:
        super().initialize(route)
        self.hub_auth = hub_auth
