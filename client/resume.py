"""Remembers open uploads on disk, so a push that was interrupted resumes the next time it runs.

An upload is found again by what it would create: the registry, the artifact and the manifest's
digest. Pushing the same content to the same artifact again therefore picks the old upload up;
anything else starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$MLLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/mllab``, else ``~/.cache/mllab``."""
    env = os.environ if env is None else env
    if env.get("MLLAB_CACHE_DIR"):
        return Path(env["MLLAB_CACHE_DIR"])
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mllab"


class ResumeStore:
    """Upload ids by key, one small JSON file each under ``<folder>/uploads``.

    A cache that cannot be written only costs the ability to resume: it is logged, never raised.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = (folder or cache_dir()) / "uploads"

    @staticmethod
    def key(registry_url: str, kind: str, full_name: str, manifest_digest: str) -> str:
        return hashlib.sha256(f"{registry_url}\n{kind}\n{full_name}\n{manifest_digest}".encode()).hexdigest()

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> str | None:
        try:
            return json.loads(self._file(key).read_text())["upload"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, upload_id: str) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self._file(key).with_suffix(".tmp")
            tmp.write_text(json.dumps({"upload": upload_id}))
            os.replace(tmp, self._file(key))
        except OSError as e:
            log.warning("Cannot remember upload %s in %s (%s); an interrupted push will start over", upload_id,
                        self.folder, e)

    def forget(self, key: str) -> None:
        try:
            self._file(key).unlink(missing_ok=True)
        except OSError as e:
            log.warning("Cannot remove %s: %s", self._file(key), e)
