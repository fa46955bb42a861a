"""The registry service: datasets and models, versioned, deduplicated, shared."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from traitlets import Bool, CaselessStrEnum, Float, Unicode, default

from ..app import ServiceApp
from ..health import Probe, database_probe
from ..openapi import Route
from ..storage import LocalStorage, S3Storage, Storage
from .cleanup import cleanup
from .context import Registry
from .db import Database, migrate
from .handlers import registry_routes
from .metrics import update_registry_metrics
from .pages import registry_pages
from .schemas import PATH_PARAMETERS, SCHEMAS


class RegistryApp(ServiceApp):
    """The ``registry`` service: managed by the hub (``mllab up``), or on its own::

        mllab-registry --config registry_config.py --ip 0.0.0.0 --port 8080
    """

    name = "registry"
    description = "ML Lab Hub dataset and model registry"
    classes = [LocalStorage, S3Storage]
    aliases = {
        **ServiceApp.aliases,
        "db-url": "RegistryApp.db_url",
        "storage": "RegistryApp.storage",
    }

    db_url = Unicode(
        help="""
        SQLAlchemy URL of the registry's metadata database.  The schema is migrated to the
        newest version (Alembic) at start.  Defaults to SQLite in the data dir.

            c.RegistryApp.db_url = "postgresql+psycopg://mllab@db/registry"
        """,
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        return f"sqlite:///{self.data_dir}/registry.sqlite"

    storage = CaselessStrEnum(
        ["local", "s3"],
        default_value="local",
        help="""
        Where blobs are stored: ``local`` (a folder, see `LocalStorage`) or ``s3`` (a bucket,
        see `S3Storage`).

            c.RegistryApp.storage = "s3"
        """,
    ).tag(config=True)

    stream = Bool(
        False,
        help="""
        With S3, send the bytes through the service instead of presigned URLs, for clients
        that cannot reach S3.  Uploads are staged on the service's disk (memory stays bounded)
        and downloads are streamed.

            c.RegistryApp.stream = True
        """,
    ).tag(config=True)

    upload_expiry = Float(
        24 * 3600,
        help="""
        Seconds an upload session stays open before it expires and what it sent is dropped.

            c.RegistryApp.upload_expiry = 6 * 3600
        """,
    ).tag(config=True)

    gc_grace = Float(
        3600,
        help="""
        Seconds an unreferenced blob is kept after an upload session last counted on it, so a
        push in progress never loses content it was told is stored.
        """,
    ).tag(config=True)

    cleanup_interval = Float(
        600,
        help="""
        Seconds between runs of the cleanup (expiring abandoned upload sessions, then removing
        blobs that no version references); 0 turns it off.
        """,
    ).tag(config=True)

    def make_storage(self) -> Storage:
        cls = S3Storage if self.storage == "s3" else LocalStorage
        return cls(parent=self, log=self.log)

    def routes(self) -> list[Route]:
        return registry_routes()

    def openapi_schemas(self) -> tuple[dict[str, dict], dict[str, dict]]:
        return PATH_PARAMETERS, SCHEMAS

    def pages(self) -> list[Route]:
        return registry_pages()

    def web_settings(self) -> dict:
        return {"registry": self.registry, "active_streams": set(), "service_prefix": self.prefix}

    def probes(self) -> list[Probe]:
        storage = self.registry.storage
        return [
            database_probe(self.registry.db, "RegistryApp.db_url"),
            Probe("storage", storage.check, storage.fix),
        ]

    async def update_metrics(self) -> None:
        await update_registry_metrics(self.registry)

    async def serve(self) -> None:
        Path(self.data_dir).mkdir(parents=True, exist_ok=True)
        self.log.info("Migrating the registry database %s", _safe_url(self.db_url))
        await asyncio.to_thread(migrate, self.db_url)
        storage = self.make_storage()
        await storage.ensure_ready()
        self.registry = Registry(
            db=Database(self.db_url),
            storage=storage,
            stream=self.stream,
            upload_expiry=timedelta(seconds=self.upload_expiry),
            gc_grace=timedelta(seconds=self.gc_grace),
        )
        if self.stream and storage.presigned:
            self.log.info("S3 transfers go through the service (stream mode)")
        cleaner = asyncio.create_task(self._clean_periodically()) if self.cleanup_interval > 0 else None
        try:
            await super().serve()
        finally:
            if cleaner:
                cleaner.cancel()

    async def _clean_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.cleanup_interval)
            await cleanup(self.registry)

    async def shutdown(self) -> None:
        await self.registry.storage.close()
        self.registry.db.close()


def _safe_url(url: str) -> str:
    """A database URL without its password, for the log."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


main = RegistryApp.launch_instance
