"""Pushes and pulls between the workspace's files and the registry, run in the background with progress.

The front end starts one (``POST mllab/api/transfers``) and polls it; the work is the client's
own :meth:`~mllab.client.artifacts.Artifacts.push`, :meth:`~mllab.client.artifacts.Models.register`
and :meth:`~mllab.client.artifacts.Artifacts.pull`, in a thread, with the transfer as their
progress :class:`~mllab.client.progress.Listener`. Everything a request names is checked before
anything is sent: the kind, the names and references, and that every file read or written lies
under the server's root dir.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.client.client import Client
from mllab.client.errors import MLLabError, RegistryError
from mllab.client.manifest import collect_files
from mllab.client.progress import Listener
from mllab.client.protocol import ProtocolError, check_name
from mllab.client.refs import parse_namespace, parse_ref

from .errors import bad_request
from .paths import PathError, confine, is_inside

log = logging.getLogger(__name__)

KINDS = ("datasets", "models")
DIRECTIONS = ("push", "pull")
#: The fields each direction takes (``direction``, ``kind`` and ``path`` are common).
FIELDS = {
    "push": {"name", "namespace", "description", "datasets", "metrics", "params"},
    "pull": {"ref"},
}
#: Fields of a model's lineage, refused for datasets.
MODEL_ONLY = {"datasets", "metrics", "params"}
#: Finished transfers remembered (for the list); the running ones are always kept.
KEEP_FINISHED = 100


@dataclass
class TransferRequest:
    """A checked request: ``local`` is the file or folder under the root dir that it reads or writes."""

    direction: str
    kind: str
    path: str
    local: Path
    name: str | None = None
    namespace: str | None = None
    ref: str | None = None
    description: str | None = None
    datasets: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    #: Files a push sends (checked to be under the root dir).
    files: int = 0


def _string(body: dict, key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise bad_request(f"{key} is missing.")
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{key} must be a non-empty string.")
    return value.strip()


def _checked(rule: Callable[..., Any], *args: Any) -> Any:
    """``rule(*args)`` with the client's refusals (the registry's own words) as 400 answers."""
    try:
        return rule(*args)
    except (ProtocolError, MLLabError) as e:
        raise bad_request(str(e)) from None


def _lineage(body: dict) -> tuple[list[str], dict[str, float], dict[str, Any]]:
    datasets = body.get("datasets") or []
    if not isinstance(datasets, list) or not all(isinstance(d, str) for d in datasets):
        raise bad_request('datasets must be a list of dataset references such as ["users/alice/iris:3"].')
    for ref in datasets:
        _checked(parse_ref, ref)
    metrics = body.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise bad_request('metrics must be an object of numbers such as {"accuracy": 0.93}.')
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad_request(f"metric {key!r} must be a number, not {value!r}.")
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise bad_request('params must be an object such as {"C": 1.0}.')
    return list(datasets), dict(metrics), dict(params)


def parse_request(body: Any, root: str | Path) -> TransferRequest:
    """The transfer ``body`` asks for, checked against the rules and the root dir; LabError 400 if it is wrong.

    Blocking (a push's folder is walked, to check each file): run it in an executor.
    """
    if not isinstance(body, dict):
        raise bad_request('send a JSON object: {"direction": "push" | "pull", "kind": "datasets" | "models", ...}.')
    direction, kind = body.get("direction"), body.get("kind")
    if direction not in DIRECTIONS:
        raise bad_request(f"direction must be push or pull, not {direction!r}.")
    if kind not in KINDS:
        raise bad_request(f"kind must be datasets or models, not {kind!r}.")
    given = {key for key, value in body.items() if value is not None} - {"direction", "kind", "path"}
    unknown = given - FIELDS[direction]
    if unknown:
        raise bad_request(f"{', '.join(sorted(unknown))}: not a field of a {direction} "
                          f"(a {direction} takes {', '.join(sorted(FIELDS[direction]))}).")
    if kind == "datasets" and given & MODEL_ONLY:
        raise bad_request(f"{', '.join(sorted(given & MODEL_ONLY))}: only models record a lineage.")
    path = _string(body, "path", required=True)
    try:
        local = confine(root, path)
    except PathError as e:
        raise bad_request(str(e)) from None
    if direction == "pull":
        ref = _string(body, "ref", required=True)
        _checked(parse_ref, ref)
        if local.exists() and not local.is_dir():
            raise bad_request(f"Cannot pull into {path!r}: it is a file; give a folder (made if missing).")
        return TransferRequest("pull", kind, path, local, ref=ref)
    name = _checked(check_name, _string(body, "name", required=True))
    namespace = _string(body, "namespace")
    if namespace is not None:
        namespace = _checked(parse_namespace, namespace)
    if not local.exists():
        raise bad_request(f"Cannot push {path!r}: no such file or folder in the workspace.")
    files = _checked(collect_files, local)
    for _, source in files:
        if not is_inside(root, source):
            raise bad_request(f"Cannot push {path!r}: {source.relative_to(local)} is a link to a file outside "
                              "the workspace's root folder.")
    datasets, metrics, params = _lineage(body)
    return TransferRequest("push", kind, path, local, name=name, namespace=namespace,
                           description=_string(body, "description"), datasets=datasets, metrics=metrics,
                           params=params, files=len(files))


class Transfer(Listener):
    """One push or pull and how far it got; the client's threads update it, handlers read :meth:`view`."""

    def __init__(self, request: TransferRequest) -> None:
        self.id = uuid.uuid4().hex
        self.request = request
        self.ref: str | None = request.ref
        self.state = "running"
        self.bytes_done = self.bytes_total = 0
        self.files_done = 0
        self.files_total = request.files
        self.error: str | None = None
        self.version: dict | None = None
        self._lock = threading.Lock()

    # -- the client's progress hooks, from its threads -----------------------------------------

    def planned(self, bytes_total: int, files_total: int, files_done: int) -> None:
        with self._lock:
            self.bytes_total, self.files_total, self.files_done = bytes_total, files_total, files_done

    def moved(self, n: int) -> None:
        with self._lock:
            self.bytes_done += n

    def files_moved(self, n: int) -> None:
        with self._lock:
            self.files_done += n

    # -- the end ---------------------------------------------------------------------------------

    def finish(self, ref: str, version: dict) -> None:
        with self._lock:
            self.ref, self.version, self.state = ref, version, "done"
            self.files_done = self.files_total = len(version.get("files") or []) or self.files_total

    def fail(self, message: str) -> None:
        with self._lock:
            self.error, self.state = message, "failed"

    def view(self) -> dict:
        with self._lock:
            return {
                "id": self.id, "direction": self.request.direction, "kind": self.request.kind,
                "path": self.request.path, "ref": self.ref, "state": self.state,
                "bytes_done": self.bytes_done, "bytes_total": self.bytes_total,
                "files_done": self.files_done, "files_total": self.files_total,
                "error": self.error, "version": self.version,
            }


def run(transfer: Transfer, client: Client) -> None:
    """Do ``transfer`` with ``client`` (blocking); its state ends ``done`` or ``failed`` with a readable error."""
    r = transfer.request
    artifacts = client.datasets if r.kind == "datasets" else client.models
    try:
        if r.direction == "pull":
            r.local.mkdir(parents=True, exist_ok=True)
            result = artifacts.pull(r.ref, r.local, progress=False, listener=transfer)
        elif r.kind == "models":
            result = client.models.register(r.local, r.name, datasets=r.datasets, params=r.params, metrics=r.metrics,
                                            namespace=r.namespace, description=r.description, progress=False,
                                            listener=transfer)
        else:
            result = artifacts.push(r.local, r.name, namespace=r.namespace, description=r.description,
                                    progress=False, listener=transfer)
    except RegistryError as e:
        transfer.fail(e.message)
    except (MLLabError, OSError) as e:
        transfer.fail(str(e))
    except Exception as e:
        log.exception("Transfer %s (%s %s %s) failed", transfer.id, r.direction, r.kind, r.path)
        transfer.fail(f"The transfer failed unexpectedly ({type(e).__name__}); the workspace server's log has "
                      "the details.")
    else:
        transfer.finish(result.ref, result.version)
        log.info("Transfer %s done: %s %s %s (%s)", transfer.id, r.direction, r.path, result.ref,
                 f"{transfer.bytes_done} bytes moved")


class Transfers:
    """This server's transfers, newest first, run ``workers`` at a time beside the server's event loop."""

    def __init__(self, client: Callable[[], Client], workers: int = 2) -> None:
        self._client = client
        self._items: OrderedDict[str, Transfer] = OrderedDict()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mllab-lab-transfer")

    def start(self, request: TransferRequest) -> Transfer:
        client = self._client()
        transfer = Transfer(request)
        self._items[transfer.id] = transfer
        self._forget_old()
        log.info("Transfer %s: %s %s %s", transfer.id, request.direction, request.kind, request.path)
        self._executor.submit(run, transfer, client)
        return transfer

    def get(self, transfer_id: str) -> Transfer | None:
        return self._items.get(transfer_id)

    def newest_first(self) -> list[Transfer]:
        return list(reversed(self._items.values()))

    def _forget_old(self) -> None:
        finished = [t.id for t in self._items.values() if t.state != "running"]
        for transfer_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._items[transfer_id]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
