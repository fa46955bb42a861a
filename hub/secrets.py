"""Secrets generated on first start and kept in the data dir, readable by the owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def kept_secret(path: Path, nbytes: int = 32) -> tuple[str, bool]:
    """The secret stored at ``path``, generating it (mode 0600) when absent.

    Returns the secret and whether it was generated now.
    """
    if path.exists():
        return path.read_text().strip(), False
    value = secrets.token_hex(nbytes)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two hubs started at once on one data dir must not overwrite each other's.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value, True

