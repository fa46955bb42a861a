"""Cleanup: abandoned upload sessions expire, and blobs no version needs are removed.

Both are safe while uploads run: a blob is removed only if no version and no open session
references it and no session has counted on it within the grace period (``touch_blobs``),
and the database row goes (conditionally, in one statement) before the stored bytes do.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from ..errors import APIError
from .context import Registry
from .metrics import GC_REMOVED_BLOBS, GC_RUNS
from .models import Blob, Upload, UploadBlob, VersionFile, utcnow
from .transfers import abort_upload

log = logging.getLogger(__name__)

_BATCH = 500


def _expired(session: Session, now: datetime) -> list[str]:
    return list(session.scalars(select(Upload.id).where(Upload.status == "open", Upload.expires_at < now)))


def _open_ids(session: Session) -> set[str]:
    return set(session.scalars(select(Upload.id).where(Upload.status == "open")))


def _forget_closed(session: Session, before: datetime) -> int:
    """Closed sessions are kept a while (for clients asking about them), then dropped."""
    return session.execute(delete(Upload).where(Upload.status != "open", Upload.expires_at < before)).rowcount


async def expire_uploads(reg: Registry, now: datetime | None = None) -> list[str]:
    """Expire open sessions past their time and drop their partial transfers; returns their ids."""
    now = now or utcnow()
    expired = await reg.db.run(_expired, now)
    for upload_id in expired:
        try:
            await abort_upload(reg, upload_id, status="expired")
            log.info("Upload %s expired", upload_id)
        except APIError:
            log.debug("Upload %s closed meanwhile; not expiring it", upload_id)
        except Exception:
            log.exception("Could not expire upload %s", upload_id)
    await sweep_transfers(reg, now)
    await reg.db.run(_forget_closed, now - reg.upload_expiry)
    return expired


async def sweep_transfers(reg: Registry, now: datetime) -> None:
    """Drop staged bytes and S3 multipart uploads that belong to no open session.

    Multipart uploads start just before their session is recorded, so young ones are spared.
    """
    open_ids = await reg.db.run(_open_ids)
    for upload_id in reg.storage.staged_uploads():
        if upload_id not in open_ids:
            log.info("Removing staged bytes of closed upload %s", upload_id)
            reg.storage.discard_staging(upload_id)
    if not reg.storage.presigned:
        return
    young = now.replace(tzinfo=timezone.utc) - timedelta(hours=1)
    for key, multipart_id, started in await reg.storage.multipart_uploads():
        if key.rsplit("/", 1)[-1] not in open_ids and started < young:
            log.info("Aborting stray multipart upload %s of %s", multipart_id, key)
            await reg.storage.abort_multipart(key, multipart_id)


def _unreferenced(cutoff: datetime):
    """The condition for a blob the GC may remove."""
    in_version = exists().where(VersionFile.sha256 == Blob.sha256)
    in_open_upload = (
        exists().where(UploadBlob.sha256 == Blob.sha256, UploadBlob.upload_id == Upload.id, Upload.status == "open")
    )
    return (Blob.last_used_at < cutoff) & ~in_version & ~in_open_upload


def _candidates(session: Session, cutoff: datetime) -> list[tuple[str, str]]:
    return list(session.execute(select(Blob.sha256, Blob.key).where(_unreferenced(cutoff)).limit(_BATCH)))


def _forget_blob(session: Session, sha256: str, cutoff: datetime) -> bool:
    # Checked again in the statement itself: a session may have counted on it since.
    return bool(session.execute(delete(Blob).where(Blob.sha256 == sha256, _unreferenced(cutoff))).rowcount)


async def collect_garbage(reg: Registry, now: datetime | None = None) -> list[str]:
    """Remove blobs no version or open session needs; returns the sha256 of those removed."""
    cutoff = (now or utcnow()) - reg.gc_grace
    removed: list[str] = []
    while True:
        candidates = await reg.db.run(_candidates, cutoff)
        batch = []
        for sha256, key in candidates:
            if not await reg.db.run(_forget_blob, sha256, cutoff):
                continue
            batch.append(sha256)
            try:
                await reg.storage.delete(key)
            except Exception:
                # Its row is gone already: the bytes are an orphan, never served again.
                log.exception("Could not remove blob %s (%s) from storage", sha256, key)
        removed += batch
        if len(candidates) < _BATCH or not batch:
            break
    if removed:
        log.info("Garbage collection removed %d blobs", len(removed))
    return removed


async def cleanup(reg: Registry) -> None:
    """The periodic job: expire sessions, then collect garbage."""
    try:
        await expire_uploads(reg)
        GC_REMOVED_BLOBS.inc(len(await collect_garbage(reg)))
    except Exception:
        GC_RUNS.labels("failed").inc()
        log.exception("Registry cleanup failed; it runs again at the next interval")
    else:
        GC_RUNS.labels("ok").inc()
