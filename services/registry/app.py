"""The registry service: datasets and models, versioned, deduplicated, shared."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import timedelta

from traitlets import Bool, CaselessStrEnum, Float, Unicode, default

from ..app import ServiceApp
from ..openapi import Route
from ..storage import LocalStorage, S3Storage, Storage
from .cleanup import cleanup
from .context import Registry
from .db import Database, migrate
from .handlers import registry_routes


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def _env_seconds(name: str, fallback: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value else fallback


class RegistryApp(ServiceApp):
    """The hub-managed ``registry`` service.

    Run by the hub as ``python -m mllab.services.registry``; its settings come from the
    environment the hub gives it (see ``mllab.hub.services``).
    """

    name = "registry"
    description = "ML Lab Hub dataset and model registry"
    classes = [LocalStorage, S3Storage]
    aliases = {
        "db-url": "RegistryApp.db_url",
        "storage": "RegistryApp.storage",
        "port": "RegistryApp.port",
        "ip": "RegistryApp.ip",
        "log-level": "Application.log_level",
    }

    db_url = Unicode(
        help="""
        SQLAlchemy URL of the registry's metadata database.  The schema is migrated to the
        newest version (Alembic) at start.  Defaults to ``$MLLAB_DB_URL``, else SQLite in
        ``$MLLAB_DATA_DIR``.

            c.RegistryApp.db_url = "postgresql+psycopg://mllab@db/registry"
        """,
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        data_dir = os.path.abspath(os.environ.get("MLLAB_DATA_DIR", ".mllab"))
        return os.environ.get("MLLAB_DB_URL") or f"sqlite:///{data_dir}/registry.sqlite"

    storage = CaselessStrEnum(
        ["local", "s3"],
        help="""
        Where blobs are stored: ``local`` (`LocalStorage`) or ``s3`` (`S3Storage`).
        Defaults to ``$MLLAB_STORAGE``, else ``local``.
        """,
    ).tag(config=True)

    @default("storage")
    def _default_storage(self) -> str:
        return os.environ.get("MLLAB_STORAGE", "local").lower()

    stream = Bool(
        help="""
        With S3, send the bytes through the service instead of presigned URLs, for clients
        that cannot reach S3.  Uploads are staged on the service's disk (memory stays bounded)
        and downloads are streamed.  Defaults to ``$MLLAB_S3_STREAM``.

            c.RegistryApp.stream = True
        """,
    ).tag(config=True)

    @default("stream")
    def _default_stream(self) -> bool:
        return _env_flag("MLLAB_S3_STREAM")

    upload_expiry = Float(
        help="Seconds an upload session stays open.  Defaults to ``$MLLAB_UPLOAD_EXPIRY``, else 24 hours.",
    ).tag(config=True)

    @default("upload_expiry")
    def _default_upload_expiry(self) -> float:
        return _env_seconds("MLLAB_UPLOAD_EXPIRY", 24 * 3600)

    gc_grace = Float(
        help="""
        Seconds an unreferenced blob is kept after an upload session last counted on it,
        so a push that found it stored can still use it.  Defaults to ``$MLLAB_GC_GRACE``,
        else one hour.
        """,
    ).tag(config=True)

    @default("gc_grace")
    def _default_gc_grace(self) -> float:
        return _env_seconds("MLLAB_GC_GRACE", 3600)

    cleanup_interval = Float(
        help="""
        Seconds between runs of the cleanup (expiring upload sessions, then collecting
        unreferenced blobs); 0 turns it off.  Defaults to ``$MLLAB_CLEANUP_INTERVAL``, else 10 minutes.
        """,
    ).tag(config=True)

    @default("cleanup_interval")
    def _default_cleanup_interval(self) -> float:
        return _env_seconds("MLLAB_CLEANUP_INTERVAL", 600)

    def make_storage(self) -> Storage:
        cls = S3Storage if self.storage == "s3" else LocalStorage
        return cls(parent=self, log=self.log)

    def routes(self) -> list[Route]:
        return registry_routes()

    def web_settings(self) -> dict:
        return {"registry": self.registry, "active_streams": set(), "service_prefix": self.prefix}

    async def serve(self) -> None:
        # The modules log to "registry"; its records go where the application's go.
        logger = logging.getLogger("registry")
        logger.handlers, logger.propagate = list(self.log.handlers), False
        logger.setLevel(self.log.level)
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
