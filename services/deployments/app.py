"""The deployments service: model serving, services and jobs."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from jupyterhub.services.auth import HubAuth
from jupyterhub.utils import url_path_join
from tornado.web import Application as WebApplication
from traitlets import CaselessStrEnum, Float, Integer, List, Unicode, default, validate

from ..app import NotFoundHandler, ServiceApp
from ..health import Probe, database_probe
from ..openapi import Route
from .controller import Controller
from .db import Database, migrate, safe_url
from .fetch import ModelFetcher
from .handlers import deployments_routes
from .handlers.base import Service
from .metrics import PERIODIC_RUNS, update_deployments_metrics
from .pages import deployments_pages
from .proxy import EndpointHandler, Endpoints, OriginEndpointHandler
from .runtimes import RUNTIMES, Runtime, runtime_class
from .schemas import PATH_PARAMETERS, SCHEMAS
from .validation import Settings


class DeploymentsApp(ServiceApp):
    """The ``deployments`` service: managed by the hub (``mllab up``), or on its own::

        mllab-deployments --config deployments_config.py --ip 0.0.0.0 --port 8080

    Its own token (``$JUPYTERHUB_API_TOKEN``) needs ``custom:models:read``: it fetches the
    model versions it serves, after checking that the caller may read them.
    """

    name = "deployments"
    description = "ML Lab Hub deployments"
    #: The runtime backends, whose options (``c.LocalRuntime.*``, ``c.DockerRuntime.*``,
    #: ``c.KubernetesRuntime.*``, and ``c.Runtime.*`` they share) the service takes.
    classes = [Runtime, *(runtime_class(name) for name in RUNTIMES)]
    aliases = {
        **ServiceApp.aliases,
        "db-url": "DeploymentsApp.db_url",
        "runtime": "DeploymentsApp.runtime",
    }

    db_url = Unicode(
        help="""
        SQLAlchemy URL of the deployments database (desired state, jobs and their runs).  The
        schema is migrated to the newest version (Alembic) at start.  Defaults to SQLite in
        the data dir.

            c.DeploymentsApp.db_url = "postgresql+psycopg://mllab@db/deployments"
        """,
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        return f"sqlite:///{self.data_dir}/deployments.sqlite"

    workspace_backend = Unicode(
        help="""
        Where the platform's workspaces run (``MLLab.backend``: ``local``, ``docker``,
        ``kubernetes``, ...).  A hub that manages the service passes its own; a service
        run on its own is told in its config file, else it is empty (unknown).

        It gives the default `runtime`, and the local runtime runs users' commands
        (services and jobs with a ``command``) only when it is ``local``: there workspaces
        already run as the hub's OS user, elsewhere a command would run with the rights of
        the platform itself.

            c.DeploymentsApp.workspace_backend = "kubernetes"
        """,
    ).tag(config=True)

    runtime = CaselessStrEnum(
        list(RUNTIMES),
        default_value="local",
        help="""
        Where deployments and jobs run: ``local`` (processes on this machine, as the
        service's OS user), ``docker`` (containers, see `DockerRuntime`) or ``kubernetes``
        (pods, see `KubernetesRuntime`).

        Defaults to the runtime named like `workspace_backend`, so deployments run where
        workspaces do, else ``local`` (which then serves models but refuses commands).  A hub
        refuses to start with a local runtime under docker or kubernetes workspaces.

            c.DeploymentsApp.runtime = "docker"
        """,
    ).tag(config=True)

    @default("runtime")
    def _default_runtime(self) -> str:
        backend = self.workspace_backend.lower()
        return backend if backend in RUNTIMES else "local"

    allowed_images = List(
        Unicode(),
        help="""
        Images users may deploy as services, run as jobs, or serve models with (container
        runtimes), as ``fnmatch`` patterns.  The runtime's model server image is always allowed;
        nothing else is unless listed.  An image that no pattern allows is refused (403
        ``image_not_allowed``) before anything starts.

            c.DeploymentsApp.allowed_images = ["registry.example.org/team/*", "python:3.12-slim"]
        """,
    ).tag(config=True)

    ready_timeout = Float(
        180,
        help="""
        Seconds a deployment has to become ready (a model server's ``/v2/health/ready``
        answering 200, a service answering HTTP at all) before it is marked ``failed``.

            c.DeploymentsApp.ready_timeout = 600
        """,
    ).tag(config=True)

    check_interval = Float(
        10,
        help="""
        Seconds between the periodic checks: a deployment whose runtime died becomes
        ``failed``, accesses seen by the endpoints are recorded, and deployments idle longer
        than their ``idle_timeout`` are stopped.

            c.DeploymentsApp.check_interval = 30
        """,
    ).tag(config=True)

    idle_timeout = Integer(
        0,
        help="""
        Default ``idle_timeout`` of new deployments: seconds without a request after which a
        deployment is stopped (``status`` and desired state ``stopped``; ``start`` brings it
        back).  0 keeps them running.  A deployment may set its own.

            c.DeploymentsApp.idle_timeout = 24 * 3600
        """,
    ).tag(config=True)

    schedule_interval = Float(
        20,
        help="""
        Seconds between evaluations of the jobs' cron schedules.  A run starts at the first
        evaluation after its time, so at most this late.

            c.DeploymentsApp.schedule_interval = 5
        """,
    ).tag(config=True)

    rollout_drain = Float(
        2,
        help="""
        Seconds the old workload keeps running after a rollout switched the endpoint to the
        new one, so that requests already sent to it finish.

            c.DeploymentsApp.rollout_drain = 30
        """,
    ).tag(config=True)

    hub_url = Unicode(
        help="""
        The hub's URL as this service reaches it.  Defaults to ``$JUPYTERHUB_API_URL``
        without its ``hub/api/``.
        """,
    ).tag(config=True)

    @default("hub_url")
    def _default_hub_url(self) -> str:
        from mllab.client.config import hub_url_from_api_url

        api_url = os.environ.get("JUPYTERHUB_API_URL", "")
        return hub_url_from_api_url(api_url) if api_url else ""

    registry_url = Unicode(
        help="""
        The registry service's URL (with its prefix) as this service reaches it, to fetch the
        models it serves.  Defaults to ``<hub_url>services/registry/``; a hub that runs the
        registry itself passes its local address.

            c.DeploymentsApp.registry_url = "http://registry:8080/services/registry/"
        """,
    ).tag(config=True)

    @default("registry_url")
    def _default_registry_url(self) -> str:
        return self.hub_url.rstrip("/") + "/services/registry/" if self.hub_url else ""

    endpoint_port = Integer(
        0,
        help="""
        Port on which the service also serves the deployments' endpoints on an origin of their
        own, at ``/<users|groups>/<owner>/<name>/<path>``: give it a host name of its own
        (`endpoint_url`), as JupyterHub's ``subdomain_host`` does for servers, so that what a
        deployed program answers never shares an origin, or cookies, with the hub.  There a
        hub token authenticates (``Authorization: token ...``), never a login cookie, and no
        proxy sits in between.  0: endpoints are served under the hub's origin only
        (``/services/deployments/endpoints/...``, inert there: see `proxy`).

            c.DeploymentsApp.endpoint_port = 8001
        """,
    ).tag(config=True)

    endpoint_ip = Unicode(
        help="Address `endpoint_port` listens on.  Defaults to `ip`; a service in a pod listens on ``0.0.0.0``.",
    ).tag(config=True)

    @default("endpoint_ip")
    def _default_endpoint_ip(self) -> str:
        return self.ip

    endpoint_url = Unicode(
        help="""
        The public URL of the endpoint origin (`endpoint_port`), as callers reach it.  The
        ``url`` of each deployment in the API, the hub pages and the JupyterLab panels point
        there.  Defaults to ``http://<endpoint_ip>:<endpoint_port>/`` (127.0.0.1 for an
        ``endpoint_ip`` of all addresses) when `endpoint_port` is set; else endpoints are
        ``<prefix>endpoints/`` on the hub's origin.

            c.DeploymentsApp.endpoint_url = "https://endpoints.ml.example.org/"
        """,
    ).tag(config=True)

    @default("endpoint_url")
    def _default_endpoint_url(self) -> str:
        if not self.endpoint_port:
            return ""
        host = "127.0.0.1" if self.endpoint_ip in ("", "0.0.0.0", "::") else self.endpoint_ip
        return f"http://{host}:{self.endpoint_port}/"

    @validate("ready_timeout", "check_interval", "schedule_interval")
    def _positive(self, proposal) -> float:
        if proposal.value <= 0:
            raise ValueError(f"DeploymentsApp.{proposal.trait.name} requires a number of seconds above 0")
        return proposal.value

    def make_runtime(self) -> Runtime:
        return runtime_class(self.runtime)(parent=self, log=self.log)

    def make_fetcher(self) -> ModelFetcher | None:
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if not (self.registry_url and token):
            self.log.warning("No registry URL or service token: model deployments are refused")
            return None
        from mllab.client import Client

        cache = Path(self.data_dir) / "deployments"
        hub_url = self.hub_url or self.registry_url

        def client() -> Client:
            return Client(hub_url, token, self.registry_url, env={"MLLAB_CACHE_DIR": str(cache / "client")})

        return ModelFetcher(cache / "models", client)

    def routes(self) -> list[Route]:
        return [
            *deployments_routes(),
            # The endpoint proxy: calling a deployment (proxy.py), at its root and below.
            Route("/endpoints/{owner_kind}/{owner}/{name}/", EndpointHandler),
            Route("/endpoints/{owner_kind}/{owner}/{name}/{path:path}", EndpointHandler),
        ]

    def pages(self) -> list[Route]:
        return deployments_pages()

    def make_endpoint_app(self) -> WebApplication:
        """The endpoint origin's application: the endpoint proxy alone, authenticated by tokens only."""
        # A HubAuth of its own: the services' HubOAuth singleton would also accept the login cookie.
        settings = {"route": "/{owner_kind}/{owner}/{name}/{path}", "hub_auth": HubAuth(parent=self, cache_max_age=60)}
        return WebApplication(
            [(r"/(users|groups)/([^/]+)/([^/]+)/(.*)", OriginEndpointHandler, settings)],
            default_handler_class=NotFoundHandler,
            endpoints=self.endpoints,
        )

    def openapi_schemas(self) -> tuple[dict[str, dict], dict[str, dict]]:
        return PATH_PARAMETERS, SCHEMAS

    def web_settings(self) -> dict:
        return {"deployments": self.service, "endpoints": self.endpoints, "service_prefix": self.prefix}

    def probes(self) -> list[Probe]:
        runtime = self.service.controller.runtime

        async def engine() -> str:
            workloads = await runtime.list()
            return f"{self.runtime} runtime, {len(workloads)} workloads"

        fix = (
            f"Check that the {self.runtime} runtime's engine runs and that the service reaches it "
            f"(DeploymentsApp.runtime, c.{type(runtime).__name__}.*; the deployments log has the error)."
        )
        return [database_probe(self.service.db, "DeploymentsApp.db_url"), Probe("runtime", engine, fix)]

    async def update_metrics(self) -> None:
        await update_deployments_metrics(self.service.db)

    async def serve(self) -> None:
        Path(self.data_dir).mkdir(parents=True, exist_ok=True)
        self.log.info("Migrating the deployments database %s", safe_url(self.db_url))
        await asyncio.to_thread(migrate, self.db_url)
        runtime = self.make_runtime()
        db = Database(self.db_url)
        self.endpoints = Endpoints()
        fetcher = self.make_fetcher()
        controller = Controller(
            db, runtime, self.endpoints, fetcher,
            ready_timeout=self.ready_timeout, rollout_drain=self.rollout_drain,
        )
        checks = Settings(
            runtime=self.runtime,
            allowed_images=tuple(self.allowed_images),
            model_image=getattr(runtime, "model_image", "") or "",
            default_idle_timeout=self.idle_timeout,
            workspace_backend=self.workspace_backend,
        )
        self.service = Service(
            db=db, controller=controller, fetcher=fetcher, checks=checks,
            endpoints_url=self.endpoint_url or url_path_join(self.prefix, "endpoints/"),
        )
        self.log.info("Deployments run on the %s runtime", self.runtime)
        try:
            await controller.reconcile()
        except Exception:
            # The service still answers (status, logs, stop); the periodic check goes on.
            self.log.exception("Reconciling with the %s runtime failed", self.runtime)
        periodic = [
            asyncio.create_task(self._every(self.check_interval, controller.check)),
            asyncio.create_task(self._every(self.schedule_interval, controller.jobs.run_schedules)),
        ]
        origin = None
        if self.endpoint_port:
            origin = self.make_endpoint_app().listen(self.endpoint_port, self.endpoint_ip, xheaders=True)
            self.log.info("Endpoints served on their own origin %s (%s:%s)", self.endpoint_url, self.endpoint_ip,
                          self.endpoint_port)
        try:
            await super().serve()
        finally:
            for task in periodic:
                task.cancel()
            if origin is not None:
                origin.stop()

    async def _every(self, seconds: float, work) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await work()
            except Exception:
                PERIODIC_RUNS.labels(work.__name__, "failed").inc()
                self.log.exception("Periodic %s failed", work.__name__)
            else:
                PERIODIC_RUNS.labels(work.__name__, "ok").inc()

    async def shutdown(self) -> None:
        controller = self.service.controller
        await controller.close()
        # Stopped (not left by a hub that is gone: that one's next start adopts what runs).
        stopped = not self.hub_pid or os.getppid() == self.hub_pid
        if stopped and getattr(controller.runtime, "stop_with_service", False):
            self.log.info("Stopping the %s runtime's workloads with the service", self.runtime)
            try:
                await controller.stop_workloads("the deployments service stopped, and its local workloads with it")
            except Exception:
                self.log.exception("Stopping the workloads failed")
        await controller.runtime.close()
        self.service.db.close()
        await EndpointHandler.close()


main = DeploymentsApp.launch_instance
