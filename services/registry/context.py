"""What the registry's handlers and background jobs share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..storage import Storage
from .db import Database


@dataclass
class Registry:
    db: Database
    storage: Storage
    #: S3 only: bytes go through the service instead of presigned URLs.
    stream: bool = False
    upload_expiry: timedelta = timedelta(hours=24)
    #: Unreferenced blobs younger than this (since last counted on) are kept by the GC.
    gc_grace: timedelta = timedelta(hours=1)

    @property
    def presigned(self) -> bool:
        """Whether clients send bytes straight to the store."""
        return self.storage.presigned and not self.stream
