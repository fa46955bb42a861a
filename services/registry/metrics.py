"""The registry's own metrics, next to the request metrics every service has (`mllab.services.metrics`).

Upload sessions open and the blobs stored are read from the database when Prometheus scrapes
(two aggregate queries), so they are right whichever replica answers; cleanup runs are counted
as they happen.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..metrics import REGISTRY
from .context import Registry
from .models import Blob, Upload

UPLOADS_OPEN = Gauge("mllab_registry_uploads_open", "Upload sessions open now.", registry=REGISTRY)
BLOBS_STORED = Gauge("mllab_registry_blobs_stored", "Blobs in the store (each distinct file content once).",
                     registry=REGISTRY)
BYTES_STORED = Gauge("mllab_registry_stored_bytes", "Bytes of the blobs in the store.", registry=REGISTRY)
GC_RUNS = Counter(
    "mllab_registry_gc_runs",
    "Runs of the cleanup (expiring abandoned upload sessions, then collecting unreferenced blobs), by outcome.",
    ["outcome"],
    registry=REGISTRY,
)
GC_REMOVED_BLOBS = Counter("mllab_registry_gc_removed_blobs", "Blobs removed by the garbage collection.",
                           registry=REGISTRY)

# Both outcomes exist from the start, so a rate or an alert on failures has a series to read.
for _outcome in ("ok", "failed"):
    GC_RUNS.labels(_outcome)


def _stored(session: Session) -> tuple[int, int, int]:
    uploads = session.scalar(select(func.count()).select_from(Upload).where(Upload.status == "open"))
    blobs, size = session.execute(select(func.count(), func.coalesce(func.sum(Blob.size), 0)).select_from(Blob)).one()
    return uploads, blobs, size


async def update_registry_metrics(reg: Registry) -> None:
    """Read the gauges from the database."""
    uploads, blobs, size = await reg.db.run(_stored)
    UPLOADS_OPEN.set(uploads)
    BLOBS_STORED.set(blobs)
    BYTES_STORED.set(size)
