"""The deployments service: model serving, services and jobs."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from traitlets import CaselessStrEnum, Float, Integer, List, Unicode, default, validate

from ..app import ServiceApp
from ..health import Probe, database_probe
from ..openapi import Route
from .controller import Controller
from .db import Database, migrate, safe_url
from .fetch import ModelFetcher
from .handlers import deployments_routes
from .handlers.base import Service
from .metrics import PERIODIC_RUNS, update_deployments_metrics
from .pages import deployments_pages
from .proxy import EndpointHandler, Endpoints
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

    runtime = CaselessStrEnum(
        list(RUNTIMES),
        default_value="local",
        help="""
        Where deployments and jobs run: ``local`` (processes on this machine, the embedded
        default), ``docker`` (containers, see `DockerRuntime`) or ``kubernetes`` (pods, see
        `KubernetesRuntime`).

            c.DeploymentsApp.runtime = "docker"
        """,
    ).tag(config=True)

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
        )
        self.service = Service(db=db, controller=controller, fetcher=fetcher, checks=checks, prefix=self.prefix)
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
        try:
            await super().serve()
        finally:
            for task in periodic:
                task.cancel()

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
        await self.service.controller.close()
        await self.service.controller.runtime.close()
        self.service.db.close()
        await EndpointHandler.close()


main = DeploymentsApp.launch_instance
