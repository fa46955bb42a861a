"""The shape every service of the platform shares.

A service is a traitlets `Application` (like jupyterhub-idle-culler).  It runs either managed
by the hub, which starts it with its settings as ``--Class.trait=value`` arguments, or on its
own (``mllab-registry --config FILE --ip 0.0.0.0 --port 8080``), declared to the hub as an
external service, the way the helm chart runs it in a pod of its own.  Either way only
JupyterHub's own variables travel in the environment (``JUPYTERHUB_API_TOKEN``,
``JUPYTERHUB_API_URL``, ``JUPYTERHUB_SERVICE_PREFIX``, ...).

A subclass declares its routes and gets health, the OpenAPI document, the OAuth callback for
browser logins and JSON errors for free.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tornado.web import Application as WebApplication
from traitlets import Integer, Unicode, default, validate
from traitlets.config import Application

from .errors import APIError
from .handlers import APIHandler, JSONHandler, PublicHandler
from .health import Probe, run_probes
from .metrics import METRICS_SCOPE, REGISTRY
from .openapi import Route, openapi_document, operation

#: Where the platform keeps its state when nobody says otherwise (``mllab up`` and services).
DEFAULT_DATA_DIR = ".mllab"
#: Where ``mllab up`` tells the services it manages its own pid (`ServiceApp.hub_pid`).
HUB_PID_VARIABLE = "MLLAB_HUB_PID"


class HealthHandler(PublicHandler):
    @operation(
        "Liveness: 200 when the service answers. With ?deep=1, readiness: each dependency (database, "
        "artifact store, runtime engine) is tried and listed in checks, with the fix for a failed one; "
        "503 when one fails.",
        parameters=[{"name": "deep", "in": "query", "required": False, "schema": {"enum": ["0", "1"]}}],
        responses={"503": {"description": "A dependency failed (deep)"}},
    )
    async def get(self) -> None:
        service = self.settings["service_name"]
        deep = self.get_query_argument("deep", "0")
        if deep not in ("0", "1"):
            raise APIError(400, "deep must be 0 or 1.")
        if deep == "0":
            self.write_json({"status": "ok", "service": service})
            return
        checks = await run_probes(self.settings["probes"])
        failed = [check["name"] for check in checks if not check["ok"]]
        if failed:
            message = f"The {service} service cannot use its {' and '.join(failed)}; see checks for the fix."
            body = {"error": "unavailable", "message": message, "status": "fail", "service": service, "checks": checks}
            self.write_json(body, status=503)
        else:
            self.write_json({"status": "ok", "service": service, "checks": checks})


class OpenAPIHandler(PublicHandler):
    @operation("This document.")
    def get(self) -> None:
        self.write_json(self.settings["openapi"])


class MetricsHandler(APIHandler):
    """Like JupyterHub's ``/hub/metrics``, with the same scope, so one token scrapes them all."""

    @operation("Prometheus metrics of this service, in Prometheus' text format.", scope=METRICS_SCOPE)
    async def get(self) -> None:
        if METRICS_SCOPE not in self.current_user.get("scopes", ()):
            raise APIError(403, f"Reading metrics needs the scope {METRICS_SCOPE} (the hub's admin role has it).")
        await self.settings["update_metrics"]()
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(REGISTRY))


class NotFoundHandler(JSONHandler):
    def prepare(self) -> None:
        raise APIError(404, f"No such route: {self.request.method} {self.request.path}")


def _handler_kwargs(route: Route) -> dict | None:
    """A route's handler arguments; our handlers also learn their route's path, the metrics' label."""
    if issubclass(route.handler, JSONHandler):
        return {"route": route.path, **(route.kwargs or {})}
    return route.kwargs


class ServiceApp(Application):
    """Base of the platform's services; subclasses set the name and list their routes."""

    version = "1"

    aliases = {
        "config": "ServiceApp.config_file",
        "ip": "ServiceApp.ip",
        "port": "ServiceApp.port",
        "data-dir": "ServiceApp.data_dir",
        "log-level": "Application.log_level",
    }

    config_file = Unicode(
        help="""
        A traitlets configuration file (``.py`` or ``.json``) with the service's settings,
        e.g. ``c.RegistryApp.db_url = ...``.  Options on the command line win over it.

            mllab-registry --config /etc/mllab/registry_config.py
        """,
    ).tag(config=True)

    port = Integer(
        help="Port to listen on. Defaults to the port of ``$JUPYTERHUB_SERVICE_URL``, else 10101.",
    ).tag(config=True)

    @default("port")
    def _default_port(self) -> int:
        return urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")).port or 80

    ip = Unicode(
        help="""
        Address to listen on. Defaults to the host of ``$JUPYTERHUB_SERVICE_URL``, else 127.0.0.1.
        A service in a pod of its own listens on ``0.0.0.0``.
        """,
    ).tag(config=True)

    @default("ip")
    def _default_ip(self) -> str:
        return urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1")).hostname or "127.0.0.1"

    prefix = Unicode(help="URL prefix. Defaults to ``$JUPYTERHUB_SERVICE_PREFIX``, else ``/services/<name>/``.").tag(
        config=True
    )

    @default("prefix")
    def _default_prefix(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{self.name}/")

    data_dir = Unicode(
        DEFAULT_DATA_DIR,
        help="""
        Folder for the service's own state when no other place is configured (the SQLite
        database, local artifacts, staging).  ``mllab up`` passes its own data dir.

            c.ServiceApp.data_dir = "/srv/mllab"
        """,
    ).tag(config=True)

    @validate("data_dir")
    def _absolute_data_dir(self, proposal) -> str:
        return str(Path(proposal.value).expanduser().absolute())

    hub_pid = Integer(
        help="""
        The hub that runs this as a managed service (``mllab up`` sets ``$MLLAB_HUB_PID``).
        Once that process is no longer its parent (the hub was killed outright: SIGKILL, the
        OOM killer), the service stops, so that none is left behind serving a hub that is gone
        beside the next start's own services.  0, for a service run on its own or in a pod:
        never.
        """,
    ).tag(config=True)

    @default("hub_pid")
    def _default_hub_pid(self) -> int:
        value = os.environ.get(HUB_PID_VARIABLE, "")
        return int(value) if value.isdigit() else 0

    def initialize(self, argv: list[str] | None = None) -> None:
        self.parse_command_line(argv)
        if self.config_file:
            command_line = self.cli_config
            self.load_config_file(self.config_file)
            # Command line > config file.
            self.update_config(command_line)
        # The modules log under "mllab.services"; their records go where the application's go.
        logger = logging.getLogger("mllab.services")
        logger.handlers, logger.propagate = list(self.log.handlers), False
        logger.setLevel(self.log.level)

    def routes(self) -> list[Route]:
        """The service's API routes, paths relative to the prefix."""
        return []

    def openapi_schemas(self) -> tuple[dict[str, dict], dict[str, dict]]:
        """The JSON Schema of each path parameter (by name) and the named schemas of the OpenAPI document."""
        return {}, {}

    def web_settings(self) -> dict:
        """Extra Tornado settings for the handlers (database, storage, ...)."""
        return {}

    def probes(self) -> list[Probe]:
        """What ``/api/v1/health?deep=1`` tries: the service's database, store, runtime engine."""
        return []

    async def update_metrics(self) -> None:
        """Set the gauges read from the service's state, just before a scrape."""

    def pages(self) -> list[Route]:
        """The service's browser pages and their assets: served, but not API operations (no OpenAPI)."""
        return []

    def all_routes(self) -> list[Route]:
        return [
            Route("/api/v1/health", HealthHandler),
            Route("/api/v1/openapi.json", OpenAPIHandler),
            Route("/metrics", MetricsHandler),
            *self.routes(),
        ]

    def make_web_app(self) -> WebApplication:
        routes = self.all_routes()
        # The handlers (ours and JupyterHub's OAuth callback) all use the singleton.
        HubOAuth.instance(parent=self, cache_max_age=60)
        handlers = [
            (url_path_join(self.prefix, route.pattern), route.handler, _handler_kwargs(route))
            for route in [*routes, *self.pages()]
        ]
        handlers.append((url_path_join(self.prefix, "oauth_callback"), HubOAuthCallbackHandler))
        return WebApplication(
            handlers,
            default_handler_class=NotFoundHandler,
            service_name=self.name,
            openapi=openapi_document(f"ML Lab Hub {self.name}", self.version, self.prefix, routes,
                                     *self.openapi_schemas()),
            cookie_secret=os.urandom(32),
            xsrf_cookies=False,
            probes=self.probes(),
            update_metrics=self.update_metrics,
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
        watch = asyncio.create_task(self._watch_hub(stop)) if self.hub_pid else None
        await stop.wait()
        if watch is not None:
            watch.cancel()
        self.log.info("%s stopping", self.name)
        server.stop()
        await self.shutdown()

    async def _watch_hub(self, stop: asyncio.Event) -> None:
        # An orphan is adopted by init (or a subreaper): its parent pid is no longer the hub's.
        while os.getppid() == self.hub_pid:
            await asyncio.sleep(1)
        self.log.warning("%s stopping: the hub that started it (pid %d) is gone", self.name, self.hub_pid)
        stop.set()

    async def shutdown(self) -> None:
        """Release resources (subclasses close databases and clients here)."""
