"""The shape every hub-managed service of the platform shares.

A service is a traitlets `Application` (like jupyterhub-idle-culler): the hub starts it with
``JUPYTERHUB_SERVICE_URL``, ``JUPYTERHUB_SERVICE_PREFIX`` and ``JUPYTERHUB_API_TOKEN`` in
its environment; it declares its routes, and gets health, the OpenAPI document, the OAuth
callback for browser logins and JSON errors for free.
"""

from __future__ import annotations

import asyncio
import os
import signal
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado.web import Application as WebApplication
from traitlets import Integer, Unicode, default
from traitlets.config import Application

from .errors import APIError
from .handlers import JSONHandler, PublicHandler
from .openapi import Route, openapi_document, operation


class HealthHandler(PublicHandler):
    @operation("Liveness: 200 when the service answers.")
    def get(self) -> None:
        self.write_json({"status": "ok", "service": self.settings["service_name"]})


class OpenAPIHandler(PublicHandler):
    @operation("This document.")
    def get(self) -> None:
        self.write_json(self.settings["openapi"])


class NotFoundHandler(JSONHandler):
    def prepare(self) -> None:
        raise APIError(404, f"No such route: {self.request.method} {self.request.path}")


class ServiceApp(Application):
    """Base of the platform's services; subclasses set the name and list their routes."""

    version = "1"

    port = Integer(help="Port to listen on. Defaults to the port of $JUPYTERHUB_SERVICE_URL.").tag(config=True)

    @default("port")
    def _default_port(self) -> int:
        return urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")).port or 80

    ip = Unicode(help="Address to listen on. Defaults to the host of $JUPYTERHUB_SERVICE_URL.").tag(config=True)

    @default("ip")
    def _default_ip(self) -> str:
        return urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1")).hostname or "127.0.0.1"

    prefix = Unicode(help="URL prefix. Defaults to $JUPYTERHUB_SERVICE_PREFIX.").tag(config=True)

    @default("prefix")
    def _default_prefix(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{self.name}/")

    def routes(self) -> list[Route]:
        """The service's API routes, paths relative to the prefix."""
        return []

    def web_settings(self) -> dict:
        """Extra Tornado settings for the handlers (database, storage, ...)."""
        return {}

    def all_routes(self) -> list[Route]:
        return [
            Route("/api/v1/health", HealthHandler),
            Route("/api/v1/openapi.json", OpenAPIHandler),
            *self.routes(),
        ]

    def make_web_app(self) -> WebApplication:
        routes = self.all_routes()
        hub_auth = HubOAuth(cache_max_age=60)
        handlers = [(url_path_join(self.prefix, route.pattern), route.handler, route.kwargs) for route in routes]
        handlers.append((url_path_join(self.prefix, "oauth_callback"), HubOAuthCallbackHandler))
        return WebApplication(
            handlers,
            default_handler_class=NotFoundHandler,
            hub_auth=hub_auth,
            service_name=self.name,
            openapi=openapi_document(f"ML Lab Hub {self.name}", self.version, self.prefix, routes),
            cookie_secret=os.urandom(32),
            xsrf_cookies=False,
            **self.web_settings(),
        )

    def start(self) -> None:
        asyncio.run(self.serve())

    async def serve(self) -> None:
        app = self.make_web_app()
        server = app.listen(self.port, self.ip, xheaders=True)
        self.log.info("%s listening on %s:%s%s", self.name, self.ip, self.port, self.prefix)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        self.log.info("%s stopping", self.name)
        server.stop()
        await self.shutdown()

    async def shutdown(self) -> None:
        """Release resources (subclasses close databases and clients here)."""
