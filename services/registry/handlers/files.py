"""Downloads: one file of a version, streamed with Range support or redirected to S3."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import quote

from tornado.iostream import StreamClosedError

from ...errors import APIError
from ...openapi import operation
from ..catalog import file_of
from ..validation import parse_ref
from ..views import download_url_view
from .base import RegistryHandler

CHUNK = 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` (end exclusive) of a single-range ``Range`` header; None for the whole file."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.group(1) == match.group(2) == "":
        raise APIError(416, f"Range {header!r} is not supported; send one range like bytes=0-1023.")
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size
    else:
        start, end = int(first), min(size, int(last) + 1) if last else size
    if start >= size or start >= end:
        raise APIError(416, f"Range {header!r} is outside the file ({size} bytes).")
    return start, end


class FileHandler(RegistryHandler):
    @operation(
        "Download one file of a version: streamed (Range supported) or a 307 to a presigned S3 URL; "
        "?redirect=false answers {\"url\"} instead.",
        scope="custom:{kind}:read",
        responses={"200": {"description": "The file, in its media type ({\"url\"} with ?redirect=false)",
                           "content": {"*/*": {}}},
                   "206": {"description": "Partial content", "content": {"*/*": {}}},
                   "307": {"description": "Redirect to S3"}},
    )
    async def get(self, owner_kind: str, owner: str, name: str, ref: str, path: str) -> None:
        namespace = self.artifact(owner_kind, owner, name, "read")
        entry, key = await self.reg.db.run(file_of, self.kind, namespace, name, parse_ref(ref), path)
        filename = entry["path"].rsplit("/", 1)[-1]
        if self.reg.presigned:
            url = self.reg.storage.download_url(key, filename)
            if self.get_query_argument("redirect", "true").lower() == "false":
                self.write_json(download_url_view(url))
            else:
                self.redirect(url, status=307)
            return
        size = entry["size"]
        span = byte_range(self.request.headers.get("Range"), size)
        start, end = span or (0, size)
        self.set_header("Content-Type", entry["media_type"])
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(filename, safe='')}")
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("ETag", f'"{entry["sha256"]}"')
        self.set_header("Content-Length", str(end - start))
        if span:
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        local = self.reg.storage.local_path(key)
        chunks = _file_chunks(local, start, end) if local else self.reg.storage.read_chunks(key, start, end)
        try:
            async for chunk in chunks:
                self.write(chunk)
                # Waits until the client has taken the chunk: memory stays at one chunk per download.
                await self.flush()
        except StreamClosedError:
            self.log.debug("Download of %s stopped by the client", path)
            return
        self.finish()


async def _file_chunks(path, start: int, end: int):
    with open(path, "rb") as f:
        f.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = await asyncio.to_thread(f.read, min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
