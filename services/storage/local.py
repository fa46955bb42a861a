"""Blobs in a folder of this machine: the embedded default of ``mllab up``."""

from __future__ import annotations

import os
from pathlib import Path

from traitlets import Unicode, default

from .base import Storage, blob_key, service_data_dir, writable_folder


class LocalStorage(Storage):
    """Blobs under ``root/blobs/ab/abcdef...``; staging under ``root/staging`` (same filesystem,
    so entering the store is an atomic rename)."""

    root = Unicode(
        help="""
        Folder that holds the blobs.  Defaults to ``artifacts`` in the service's data dir.

            c.LocalStorage.root = "/srv/mllab/artifacts"
        """,
    ).tag(config=True)

    @default("root")
    def _default_root(self) -> str:
        return os.path.join(service_data_dir(self), "artifacts")

    @default("staging_dir")
    def _default_staging_dir(self) -> str:
        return os.path.join(self.root, "staging")

    async def ensure_ready(self) -> None:
        await super().ensure_ready()
        (Path(self.root) / "blobs").mkdir(parents=True, exist_ok=True)
        self.log.info("Storing artifacts in %s", self.root)

    fix = "Check that LocalStorage.root is a folder the registry may write to (the registry's log has the error)."

    async def check(self) -> str:
        await super().check()
        writable_folder(Path(self.root) / "blobs")
        return "local folder"

    async def store_file(self, path: Path, sha256: str) -> str:
        key = blob_key(sha256)
        target = Path(self.root) / key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Same content under the same name: replacing an existing blob changes nothing.
        os.replace(path, target)
        return key

    async def delete(self, key: str) -> None:
        self.log.info("Removing blob %s", key)
        (Path(self.root) / key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path:
        return Path(self.root) / key
