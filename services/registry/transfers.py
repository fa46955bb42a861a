"""Upload sessions end to end: the database side (``uploads.py``) plus the bytes in storage.

Each function takes the `Registry` explicitly, so tests and the cleanup job call them as the
handlers do.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

from mllab.client.protocol import MiB, part_size_for, part_sizes, sha256_file

from ..errors import APIError
from ..storage import S3Storage
from ..storage.s3 import Part
from .catalog import Readable, Visible
from .context import Registry
from .models import utcnow
from .uploads import (
    Declared,
    Multipart,
    UploadState,
    close_upload,
    commit_version,
    plan_upload,
    record_upload,
    record_verified,
    renew_multipart,
    stored_blobs,
    upload_state,
)
from .views import (
    empty_transfer_view,
    multipart_transfer_view,
    part_view,
    stream_transfer_view,
    unchanged_view,
    upload_view,
)

log = logging.getLogger(__name__)


async def begin_upload(
    reg: Registry, declared: Declared, visible: Visible, readable: Readable, stream_url: str
) -> tuple[int, dict]:
    """``POST .../uploads``: (200, {"unchanged", "version"}) or (201, Upload).

    ``readable``: what the caller may read, the only versions whose blobs it need not send.
    """
    plan = await reg.db.run(plan_upload, declared, visible, readable)
    if plan.unchanged is not None:
        return 200, unchanged_view(plan.unchanged)
    upload_id = secrets.token_hex(16)
    missing = {sha: size for sha, size in declared.blobs.items() if sha not in plan.present and size > 0}
    multiparts: dict[str, Multipart] = {}
    if reg.presigned:
        checksums = declared.part_crc32 if reg.storage.part_checksums else {}
        multiparts = await _begin_multiparts(reg.storage, upload_id, missing, checksums)
    try:
        await reg.db.run(record_upload, upload_id, declared, plan, multiparts, utcnow() + reg.upload_expiry)
    except BaseException:
        await _abort_multiparts(reg.storage, multiparts.values())
        raise
    log.info("Upload %s of %s/%s by %s: %d files, %d blobs to send", upload_id, declared.namespace,
             declared.name, declared.user, len(declared.files), len(missing))
    state = await reg.db.run(upload_state, upload_id)
    return 201, await describe_upload(reg, state, stream_url, fresh=True)


async def _begin_multiparts(storage: S3Storage, upload_id: str, missing: dict[str, int],
                            checksums: dict[str, list[str]]) -> dict[str, Multipart]:
    """A multipart upload per missing blob; those with declared part CRC32s get S3 to check every part."""
    multiparts: dict[str, Multipart] = {}

    async def begin(sha256: str, size: int) -> None:
        key = storage.multipart_key(sha256, upload_id)
        crcs = checksums.get(sha256)
        multipart_id = await storage.begin_multipart(key, checksums=crcs is not None)
        multiparts[sha256] = Multipart(key, multipart_id, part_size_for(size), crcs)

    # A few at a time: a thousand new files must not open a thousand connections.
    limit = asyncio.Semaphore(16)

    async def bounded(sha256: str, size: int) -> None:
        async with limit:
            await begin(sha256, size)

    results = await asyncio.gather(*(bounded(s, n) for s, n in missing.items()), return_exceptions=True)
    failure = next((r for r in results if isinstance(r, BaseException)), None)
    if failure is not None:
        await _abort_multiparts(storage, multiparts.values())
        raise failure
    return multiparts


async def _abort_multiparts(storage: Any, multiparts: Any) -> None:
    for multipart in multiparts:
        try:
            await storage.abort_multipart(multipart.key, multipart.multipart_id)
        except Exception:
            log.exception("Could not abort multipart upload %s of %s", multipart.multipart_id, multipart.key)


def staged_bytes(reg: Registry, upload_id: str, sha256: str) -> int:
    path = reg.storage.staging_path(upload_id, sha256)
    return path.stat().st_size if path.exists() else 0


async def describe_upload(reg: Registry, state: UploadState, stream_url: str, fresh: bool = False) -> dict:
    """The Upload of API.md: each file, whether it is stored, and how to send what is missing.

    ``stream_url`` is the absolute URL of the uploads route (``.../api/v1/uploads``).
    ``fresh``: the session was just made, so no part has been received yet.
    """
    transfers: dict[str, dict | None] = {}
    for blob in state.blobs:
        sha256 = blob["sha256"]
        if sha256 in state.stored or state.status != "open":
            transfers[sha256] = None
        elif blob["size"] == 0:
            transfers[sha256] = empty_transfer_view()
        elif blob["multipart_id"]:
            transfers[sha256] = await _multipart_transfer(reg.storage, blob, fresh)
        else:
            url = f"{stream_url}/{state.id}/blobs/{sha256}"
            transfers[sha256] = stream_transfer_view(url, staged_bytes(reg, state.id, sha256))
    return upload_view(state, transfers)


async def _multipart_transfer(storage: S3Storage, blob: dict, fresh: bool) -> dict:
    key, multipart_id, part_size, crcs = blob["key"], blob["multipart_id"], blob["part_size"], blob["part_crc32"]
    done = {} if fresh else (await storage.list_parts(key, multipart_id) or {})
    parts = []
    for number, size in enumerate(part_sizes(blob["size"], part_size), start=1):
        received = number in done and done[number].size == size
        crc32 = crcs[number - 1] if crcs else None
        url = None if received else storage.part_url(key, multipart_id, number, crc32)
        parts.append(part_view(number, size, received, url, crc32))
    return multipart_transfer_view(part_size, parts)


def content_mismatch(path: str) -> APIError:
    """The one answer to bytes that are not the declared content.

    It names only the file and what was declared: never the stored blob's size or whether the store
    holds that sha256 at all, which would tell the caller about content they may not read.
    """
    return APIError(422, f"The content received for {path!r} does not match its declared sha256 and size; "
                    "send the file again.", error="checksum_mismatch")


async def verify_staged(reg: Registry, upload_id: str, sha256: str, size: int, digest: str | None,
                        path: str) -> None:
    """A streamed blob is complete: check its size and hash, then keep one copy in the store.

    ``digest`` is the sha256 computed while receiving, None when the bytes came in several
    requests (then the staged file is hashed again, in a thread). ``path``: the file's path in the
    manifest, for the error.
    """
    staged = reg.storage.staging_path(upload_id, sha256)
    if digest is None:
        digest = await asyncio.to_thread(sha256_file, staged)
    if (staged.stat().st_size, digest) != (size, sha256):
        staged.unlink(missing_ok=True)
        raise content_mismatch(path)
    # The session proved it holds the content. If the store has it already (maybe someone else's), the
    # stored blob is used and the copy dropped, so content is still stored once; else (or if it went
    # meanwhile) the copy becomes the blob.
    if sha256 in await reg.db.run(stored_blobs, [sha256]) and (
        await reg.db.run(record_verified, upload_id, sha256, size, None) is not None
    ):
        staged.unlink(missing_ok=True)
        return
    key = await reg.storage.store_file(staged, sha256)
    if await reg.db.run(record_verified, upload_id, sha256, size, key) != key:
        await reg.storage.delete(key)  # another session stored it under another key meanwhile: keep one copy


async def complete_upload(reg: Registry, upload_id: str, visible: Visible) -> tuple[int, dict]:
    """``POST /uploads/{id}/complete``: verify every blob, then commit the version in one transaction."""
    state = await reg.db.run(upload_state, upload_id)
    if state.status != "open":
        raise APIError(409, f"Upload {upload_id} is {state.status}; start a new upload to make another version.")
    for blob in state.blobs:
        if blob["sha256"] in state.stored:  # present when the session began, or its own bytes verified
            continue
        if blob["size"] == 0:
            path = reg.storage.staging_path(upload_id, blob["sha256"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            await verify_staged(reg, upload_id, blob["sha256"], 0, None, _path_of(state, blob["sha256"]))
        elif blob["multipart_id"]:
            await _verify_multipart(reg, upload_id, blob, state)
    status, version = await reg.db.run(commit_version, upload_id, visible)
    reg.storage.discard_staging(upload_id)
    log.info("Upload %s completed: %s:%s", upload_id, state.full_name, version["number"])
    return status, version


def _path_of(state: UploadState, sha256: str) -> str:
    return next(f["path"] for f in state.files if f["sha256"] == sha256)


async def _verify_multipart(reg: Registry, upload_id: str, blob: dict, state: UploadState) -> None:
    storage: S3Storage = reg.storage
    key, sha256, size = blob["key"], blob["sha256"], blob["size"]
    path = _path_of(state, sha256)
    start = time.perf_counter()
    parts = await storage.list_parts(key, blob["multipart_id"])
    if parts is None:
        # Completed before (the service stopped before recording it), or never there.
        if await storage.object_size(key) is None:
            raise APIError(409, f"The transfer of {path!r} is gone from S3; start a new upload.")
    else:
        expected = part_sizes(size, blob["part_size"])
        missing = [n for n, part in enumerate(expected, start=1) if n not in parts or parts[n].size != part]
        if missing:
            received = sum(parts[n].size for n in parts if n <= len(expected))
            raise APIError(409, f"{path!r} is incomplete: {received} of {size} bytes received (parts missing: "
                           f"{', '.join(map(str, missing[:10]))}). Send them, then complete.")
        crcs = blob["part_crc32"]
        # S3 checked each part against its signed CRC32; moto records none from presigned PUTs: name the declared one.
        await storage.complete_multipart(key, blob["multipart_id"], {
            n: Part(parts[n].etag, parts[n].size, parts[n].crc32 or (crcs[n - 1] if crcs else None))
            for n in range(1, len(expected) + 1)
        })
    assembled = time.perf_counter()
    # S3 checks each part against its declared CRC32 (where there are some), but only reading the object back proves
    # its sha256, the name other versions will trust; reads cost a fraction of the upload and stay
    # between the service and S3.
    actual_size, digest = await storage.object_sha256(key)
    hashed = time.perf_counter()
    log.info("Verified blob %s (%.0f MiB): S3 complete %.2f s, read back + sha256 %.2f s", sha256[:12], size / MiB,
             assembled - start, hashed - assembled)
    if (actual_size, digest) != (size, sha256):
        await storage.delete(key)
        new_id = await storage.begin_multipart(key, checksums=blob["part_crc32"] is not None)
        await reg.db.run(renew_multipart, upload_id, sha256, key, new_id)
        raise content_mismatch(path)
    # The bytes are the session's proof of possession; if another session stored the content first, its blob is
    # used and this copy deleted, so content is stored once.
    if await reg.db.run(record_verified, upload_id, sha256, size, key) != key:
        await storage.delete(key)


async def abort_upload(reg: Registry, upload_id: str, status: str = "aborted") -> None:
    """``DELETE /uploads/{id}`` (or expiry): close the session and drop what it sent."""
    state = await reg.db.run(upload_state, upload_id)
    await reg.db.run(close_upload, upload_id, status)
    await release_transfers(reg, state)


async def release_transfers(reg: Registry, state: UploadState) -> None:
    reg.storage.discard_staging(state.id)
    multiparts = [b for b in state.blobs if b["multipart_id"]]
    await _abort_multiparts(reg.storage, [Multipart(b["key"], b["multipart_id"], None) for b in multiparts])
    for blob in multiparts:
        # Completed in S3 but never verified and recorded (the service stopped in between).
        if state.keys.get(blob["sha256"]) != blob["key"]:
            await reg.storage.delete(blob["key"])
    log.info("Upload %s of %s closed; its partial transfers are dropped", state.id, state.full_name)
