"""The storage interface the registry uses, whatever holds the bytes.

A blob is a file's content, named by its sha256 and stored once.  Bytes that stream through
the service land in a staging folder on local disk first (``staging_path``), are hashed and
checked, and only then enter the store (``store_file``): a blob in the store is always
verified content.  Backends that can take bytes directly from clients (S3, over presigned
URLs) add the multipart methods of `S3Storage`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from traitlets import Unicode
from traitlets.config import LoggingConfigurable

from ..app import DEFAULT_DATA_DIR


class StorageUnavailable(Exception):
    """The store cannot be reached; the request may succeed later (HTTP 503)."""


def service_data_dir(storage: LoggingConfigurable) -> str:
    """The data dir of the service that owns ``storage`` (its parent), where defaults live."""
    return getattr(storage.parent, "data_dir", None) or os.path.abspath(DEFAULT_DATA_DIR)


def blob_key(sha256: str) -> str:
    """Where a verified blob lives: fanned out by its first two hex digits."""
    return f"blobs/{sha256[:2]}/{sha256}"


def writable_folder(folder: Path) -> None:
    """`StorageUnavailable` unless ``folder`` is a folder this process may create files in."""
    if not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
        raise StorageUnavailable(f"{folder} is not a folder the service may write to")


class Storage(LoggingConfigurable):
    """Base of the storage backends: staging of streamed bytes, and the blob store itself."""

    #: Whether clients can send and fetch bytes without going through the service.
    presigned = False

    staging_dir = Unicode(
        help="""
        Folder where bytes streamed through the service wait until their file is complete
        and verified.  Partial files stay there so an interrupted upload resumes.

            c.LocalStorage.staging_dir = "/srv/mllab/staging"
        """,
    ).tag(config=True)

    def staging_path(self, upload_id: str, sha256: str) -> Path:
        """The partial file of one blob of one upload session."""
        return Path(self.staging_dir) / upload_id / sha256

    def discard_staging(self, upload_id: str) -> None:
        """Remove what an upload session left in the staging folder."""
        shutil.rmtree(Path(self.staging_dir) / upload_id, ignore_errors=True)

    def staged_uploads(self) -> list[str]:
        """Ids of the upload sessions that have a staging folder."""
        root = Path(self.staging_dir)
        return [p.name for p in root.iterdir() if p.is_dir()] if root.is_dir() else []

    async def ensure_ready(self) -> None:
        """Create what the store needs (folders, bucket); log, don't fail, if it is unreachable."""
        Path(self.staging_dir).mkdir(parents=True, exist_ok=True)

    #: What an admin does when `check` fails.
    fix = ""

    async def check(self) -> str:
        """Raise unless the store can be used now; else a short description of it (readiness).

        The staging folder is checked here; backends add their store.
        """
        writable_folder(Path(self.staging_dir))
        return "staging folder"

    async def store_file(self, path: Path, sha256: str) -> str:
        """Move the verified file at ``path`` into the store; returns the blob's key."""
        raise NotImplementedError

    async def delete(self, key: str) -> None:
        """Remove a blob from the store (missing is fine)."""
        raise NotImplementedError

    def local_path(self, key: str) -> Path | None:
        """A path the service can stream the blob from, or None when it must redirect."""
        return None

    def read_chunks(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``[start, end)`` of a blob, a chunk at a time, for backends without `local_path`."""
        raise NotImplementedError

    def download_url(self, key: str, filename: str) -> str | None:
        """A URL from which a client fetches the blob directly, or None."""
        return None

    async def close(self) -> None:
        """Release connections."""
