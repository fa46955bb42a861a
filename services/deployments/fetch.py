"""Model files from the registry, fetched with the service's own token into a local cache.

The service's token (``$JUPYTERHUB_API_TOKEN``) holds ``custom:models:read`` through the role
the hub gives it; whether the *caller* may read the model is the handler's check, made before
anything is fetched.  The client verifies every file's sha256.  A version is fetched once into
``<data_dir>/deployments/models/<namespace>/<name>/<version>/`` and reused from there: a
version's content never changes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from mllab.client import Client, IntegrityError, MLLabError, RegistryError

from ..errors import APIError
from .validation import ModelRef

log = logging.getLogger(__name__)


class ModelFetcher:
    """Resolves model references and fetches versions; blocking work runs in threads."""

    def __init__(self, cache_root: Path, client: Callable[[], Client]) -> None:
        self.cache_root = Path(cache_root)
        self._client = client
        self._locks: dict[Path, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def folder(self, ref: ModelRef, number: int) -> Path:
        return self.cache_root / ref.namespace / ref.name / str(number)

    async def resolve(self, ref: ModelRef) -> int:
        """The version number ``ref`` names now; 404 (APIError) when the registry has none."""
        version = await asyncio.to_thread(self._call, ref, lambda client: client.models.get(str(ref)))
        return int(version["number"])

    async def fetch(self, ref: ModelRef, number: int) -> Path:
        """The folder holding version ``number`` of the model, fetched unless cached."""
        return await asyncio.to_thread(self._fetch, ref, number)

    def _fetch(self, ref: ModelRef, number: int) -> Path:
        target = self.folder(ref, number)
        with self._lock(target):
            if target.is_dir():
                log.debug("Model %s:%s is cached in %s", ref.full_name, number, target)
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{number}.partial-{secrets.token_hex(4)}")
            log.info("Fetching model %s:%s into %s", ref.full_name, number, target)
            try:
                result = self._call(ref, lambda client: client.models.pull(
                    f"{ref.full_name}:{number}", partial, progress=False))
                partial.rename(target)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
            log.info("Fetched model %s:%s: %d files, %d bytes", ref.full_name, number, len(result.paths),
                     result.bytes_received)
            return target

    def _lock(self, folder: Path) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(folder, threading.Lock())

    def _call(self, ref: ModelRef, action: Callable[[Client], object]):
        try:
            with self._client() as client:
                return action(client)
        except RegistryError as e:
            if e.status == 404:
                raise APIError(404, f"Model {ref} not found in the registry: {e.message}",
                               error="model_not_found") from None
            if e.status in (401, 403):
                log.error("The registry refused the service's token for %s: %s", ref, e)
                raise APIError(503, "The deployments service may not read models from the registry; an admin must "
                                    "grant it custom:models:read.") from None
            if e.status == 400:
                raise APIError(400, f"The registry refused model {ref}: {e.message}") from None
            log.warning("Registry error for model %s: %s", ref, e)
            if not e.status:  # no answer: the registry, or the storage it sent us to, is unreachable
                raise APIError(503, f"Model {ref} could not be fetched: {e.message}") from None
            raise APIError(503, f"The registry cannot be reached or failed ({e}); try again later.") from None
        except IntegrityError as e:
            raise APIError(503, f"Model {ref} failed verification while fetching: {e}") from None
        except MLLabError as e:
            raise APIError(503, f"Model {ref} could not be fetched: {e}") from None
