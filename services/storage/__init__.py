"""Where artifact content lives: content-addressed blobs on a local folder or on S3."""

from .base import Storage, StorageUnavailable
from .local import LocalStorage
from .s3 import S3Storage

__all__ = ["LocalStorage", "S3Storage", "Storage", "StorageUnavailable"]
