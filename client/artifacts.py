"""``client.datasets`` and ``client.models``: push, pull, list and manage artifacts of one kind."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .config import workspace_from_env
from .errors import ManifestError, RefError, RegistryError
from .manifest import DEFAULT_EXCLUDE, FileEntry, build_manifest, collect_files
from .progress import Listener, Meter
from .protocol import manifest_digest
from .refs import Ref, check_alias, parse_artifact, parse_ref
from .transfer import Downloader, Uploader, Wanted, file_matches

if TYPE_CHECKING:
    from .client import Client


@dataclass
class PushResult:
    """What a push did: the version it made (or found unchanged) and what it had to send."""

    ref: str
    version: dict
    unchanged: bool
    files: int
    files_sent: int = 0
    bytes_sent: int = 0
    resumed: bool = False

    def as_json(self) -> dict:
        return {"ref": self.ref, "number": self.version.get("number"), "unchanged": self.unchanged,
                "files": self.files, "files_sent": self.files_sent, "bytes_sent": self.bytes_sent,
                "resumed": self.resumed, "version": self.version}


@dataclass
class PullResult:
    """What a pull did: the version it fetched, where to, and what was already there."""

    ref: str
    version: dict
    dest: Path
    paths: list[Path] = field(default_factory=list)
    files_downloaded: int = 0
    bytes_received: int = 0

    def as_json(self) -> dict:
        return {"ref": self.ref, "number": self.version.get("number"), "dest": str(self.dest),
                "files": len(self.paths), "files_downloaded": self.files_downloaded,
                "bytes_received": self.bytes_received}


class Artifacts:
    """The artifacts of one kind; references may omit the namespace (then it is the caller's own)."""

    kind = ""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._http = client.http

    # -- references and URLs -------------------------------------------------------------------

    def ref(self, text: str | Ref, namespace: str | None = None) -> Ref:
        """``text`` parsed, with ``namespace`` (else the caller's own) where it names none."""
        ref = text if isinstance(text, Ref) else parse_ref(text)
        if ref.namespace is None:
            ref = ref.in_namespace(namespace or self._client.namespace)
        return ref

    def _artifact_ref(self, name: str, namespace: str | None = None) -> Ref:
        return self.ref(parse_artifact(name, namespace), namespace)

    def _url(self, ref: Ref, *rest: str) -> str:
        owner_kind, owner = ref.namespace.split("/", 1)
        parts = [self.kind, owner_kind, quote(owner, safe=""), ref.name, *rest]
        return self._http.registry_url("/".join(parts))

    # -- reading -------------------------------------------------------------------------------

    def list(self, namespace: str | None = None, tag: str | Iterable[str] | None = None,
             q: str | None = None) -> builtins.list[dict]:
        """Artifacts the caller may read, optionally in ``namespace``, with every tag of ``tag``, matching ``q``."""
        params: dict[str, Any] = {}
        if namespace:
            params["namespace"] = namespace.strip("/")
        if tag:
            params["tag"] = [tag] if isinstance(tag, str) else builtins.list(tag)
        if q:
            params["q"] = q
        return builtins.list(self._http.pages(self._http.registry_url(self.kind), params))

    def info(self, name: str) -> dict:
        """The artifact: description, tags, aliases, latest version number."""
        return self._http.json("GET", self._url(self._artifact_ref(name)))

    def get(self, ref: str) -> dict:
        """A version with its files: ``name:3``, ``name@production``, or ``name`` for the latest."""
        ref = self.ref(ref)
        return self._http.json("GET", self._url(ref, "versions", quote(ref.version or "latest", safe="")))

    def resolve(self, ref: str) -> str:
        """The exact version ``ref`` names now, as ``namespace/name:N`` (checked to exist)."""
        ref = self.ref(ref)
        return f"{ref.full_name}:{self.get(str(ref))['number']}"

    def versions(self, name: str) -> builtins.list[dict]:
        """Every version of an artifact, newest first (without their files)."""
        return builtins.list(self._http.pages(self._url(self._artifact_ref(name), "versions"), {}))

    # -- changing ------------------------------------------------------------------------------

    def update(self, name: str, description: str | None = None, tags: Iterable[str] | None = None) -> dict:
        """Set the description and/or replace the tags of an artifact."""
        body = {k: v for k, v in (("description", description), ("tags", _tags(tags))) if v is not None}
        return self._http.json("PATCH", self._url(self._artifact_ref(name)), json=body)

    def alias(self, ref: str, alias: str) -> dict:
        """Point ``alias`` (e.g. ``production``) at the version ``ref`` names; answers ``{"alias", "version"}``."""
        check_alias(alias)
        ref = self.ref(ref)
        number = ref.number or self.get(str(ref))["number"]
        return self._http.json("PUT", self._url(ref, "aliases", alias), json={"version": number})

    def unalias(self, name: str, alias: str) -> None:
        """Remove ``alias`` from an artifact (the version stays)."""
        check_alias(alias)
        self._http.json("DELETE", self._url(self._artifact_ref(name), "aliases", alias))

    def delete(self, ref: str) -> None:
        """Delete a version (``name:3``) or, given no version, the artifact with all its versions."""
        ref = self.ref(ref)
        if ref.alias is not None:
            raise RefError(f"Delete a version by number ({ref.full_name}:N) or the whole artifact ({ref.full_name}); "
                           f"not through an alias ({ref}).")
        if ref.number is not None:
            self._http.json("DELETE", self._url(ref, "versions", str(ref.number)))
        else:
            self._http.json("DELETE", self._url(ref))

    # -- transfers -----------------------------------------------------------------------------

    def push(self, path: str | Path, name: str, namespace: str | None = None, description: str | None = None,
             tags: Iterable[str] | None = None, metadata: dict | None = None, *,
             exclude: Iterable[str] = DEFAULT_EXCLUDE, progress: bool | None = None,
             on_transfer: Callable[[int], None] | None = None, listener: Listener | None = None) -> PushResult:
        """Upload a file or folder as a new version of ``name`` (created if missing).

        Files the registry already holds are not sent; content equal to the latest version makes
        no new version (``unchanged``). An interrupted push resumes when run again.
        ``progress`` draws bars on stderr (None: only on a terminal); ``on_transfer(n)`` hears every
        chunk sent, and an exception it raises stops the push (which can then be resumed);
        ``listener`` hears what is to be sent, then the bytes and the files as they go.
        """
        return self._push(path, name, namespace, description, tags, metadata, None, exclude, progress, on_transfer,
                          listener)

    def _push(self, path: str | Path, name: str, namespace: str | None, description: str | None,
              tags: Iterable[str] | None, metadata: dict | None, lineage: dict | None, exclude: Iterable[str],
              progress: bool | None, on_transfer: Callable[[int], None] | None,
              listener: Listener | None) -> PushResult:
        ref = self._artifact_ref(name, namespace)
        files = collect_files(Path(path), exclude)
        with Meter("hashing", sum(local.stat().st_size for _, local in files), progress) as meter:
            entries = build_manifest(files, self._client.workers, meter)
        if description is not None or tags:
            self._describe(ref, description, tags)
        body: dict[str, Any] = {"files": [e.as_json() for e in entries]}
        if metadata:
            body["metadata"] = metadata
        if lineage is not None:
            body["lineage"] = lineage
        store = self._client.resume_store
        key = store.key(self._client.settings.registry_url, self.kind, ref.full_name, manifest_digest(body["files"]))
        upload = self._resumable(store.get(key), entries)
        resumed = upload is not None
        if upload is None:
            answer = self._http.request("POST", self._url(ref, "uploads"), json=body)
            upload = answer.json()
            if answer.status_code == 200 and upload.get("unchanged"):
                store.forget(key)
                version = upload["version"]
                return PushResult(f"{ref.full_name}:{version['number']}", version, True, len(entries))
            store.put(key, upload["id"])
        missing = sum(1 for f in upload["files"] if not f.get("present"))
        with Meter(f"pushing {ref.name}", _left_to_send(upload), progress, on_transfer, listener) as meter:
            sending = {f["sha256"] for f in upload["files"]
                       if not f.get("present") and (f.get("transfer") or {}).get("method", "none") != "none"}
            meter.plan(len(entries), sum(1 for e in entries if e.sha256 not in sending))
            report = Uploader(self._http, self._client.workers).send(upload, entries, meter)
        try:
            version = self._http.json("POST", self._http.registry_url(f"uploads/{upload['id']}/complete"))
        except RegistryError as e:
            if e.status < 500 and e.status != 0:
                store.forget(key)  # refused for good (changed file, already completed): the next push starts over
            raise
        store.forget(key)
        return PushResult(f"{ref.full_name}:{version['number']}", version, False, len(entries), missing,
                          report.bytes, resumed)

    def _describe(self, ref: Ref, description: str | None, tags: Iterable[str] | None) -> None:
        body: dict[str, Any] = {"namespace": ref.namespace, "name": ref.name}
        if description is not None:
            body["description"] = description
        if tags:
            body["tags"] = _tags(tags)
        created = self._http.request("POST", self._http.registry_url(self.kind), json=body, ok=(409,))
        if created.status_code != 409:
            return
        current = self.info(ref.full_name)
        merged = list(dict.fromkeys([*current.get("tags", []), *_tags(tags or [])]))
        self.update(ref.full_name, description, merged)

    def _resumable(self, upload_id: str | None, entries: builtins.list[FileEntry]) -> dict | None:
        """The open upload ``upload_id`` if it still exists and is for exactly these files."""
        if upload_id is None:
            return None
        try:
            upload = self._http.json("GET", self._http.registry_url(f"uploads/{upload_id}"))
        except RegistryError as e:
            if e.status in (0,) or e.status >= 500:
                raise
            return None
        wanted = {(e.path, e.sha256, e.size) for e in entries}
        held = {(f["path"], f["sha256"], f["size"]) for f in upload.get("files", [])}
        return upload if upload.get("status") == "open" and held == wanted else None

    def pull(self, ref: str, dest: str | Path, *, progress: bool | None = None,
             on_transfer: Callable[[int], None] | None = None, listener: Listener | None = None) -> PullResult:
        """Download version ``ref`` into the folder ``dest``; files already there and identical are kept.

        ``progress``, ``on_transfer`` and ``listener`` follow it as they follow a :meth:`push`.
        """
        ref = self.ref(ref)
        version = self.get(str(ref))
        dest = Path(dest)
        number = str(version["number"])
        root = dest.resolve()
        wanted, paths = [], []
        for f in version.get("files", []):
            target = (dest / f["path"]).resolve()
            if root not in target.parents:
                raise ManifestError(f"Refusing to write {f['path']!r}: it would land outside {str(dest)!r}.")
            paths.append(dest / f["path"])
            url = self._url(ref, "versions", number, "files", quote(f["path"], safe="/"))
            wanted.append(Wanted(url, target, int(f["size"]), f["sha256"]))
        todo = [w for w in wanted if not file_matches(w.target, w.size, w.sha256)]
        with Meter(f"pulling {ref.name}", sum(w.size for w in todo), progress, on_transfer, listener) as meter:
            meter.plan(len(wanted), len(wanted) - len(todo))
            Downloader(self._http, self._client.workers).fetch(todo, meter)
        return PullResult(f"{ref.full_name}:{number}", version, dest, paths, len(todo), meter.count)


def _tags(tags: Iterable[str] | None) -> builtins.list[str] | None:
    if tags is None:
        return None
    if isinstance(tags, str):
        tags = [tags]
    return [t.strip() for t in tags if t.strip()]


def _left_to_send(upload: dict) -> int:
    total, seen = 0, set()
    for item in upload.get("files", []):
        transfer = item.get("transfer") or {}
        if item.get("present") or item["sha256"] in seen:
            continue
        seen.add(item["sha256"])
        if transfer.get("method") == "stream":
            total += int(item["size"]) - int(transfer.get("offset") or 0)
        elif transfer.get("method") == "s3-multipart":
            total += sum(int(p.get("size", 0)) for p in transfer.get("parts", []) if not p.get("done"))
    return total


class Datasets(Artifacts):
    """``client.datasets``: versioned data, shared by namespace."""

    kind = "datasets"


class Models(Artifacts):
    """``client.models``: versioned models that remember what they were trained on."""

    kind = "models"

    def register(self, path: str | Path, name: str, datasets: Iterable[str] = (), params: dict | None = None,
                 metrics: dict | None = None, namespace: str | None = None, description: str | None = None,
                 tags: Iterable[str] | None = None, metadata: dict | None = None, flavor: str | None = None, *,
                 exclude: Iterable[str] = DEFAULT_EXCLUDE, progress: bool | None = None,
                 on_transfer: Callable[[int], None] | None = None, listener: Listener | None = None) -> PushResult:
        """Push a model version with its lineage.

        ``datasets`` are references (``users/alice/iris@latest``), recorded as the exact versions
        they resolve to now. The workspace comes from the environment; the user from the token.
        ``flavor`` defaults to ``mlflow`` for a folder with an ``MLmodel`` file.
        """
        for key, value in (metrics or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"Metric {key!r} must be a number, not {value!r}.")
        lineage = {
            "datasets": [self._client.datasets.resolve(d) for d in datasets],
            "workspace": workspace_from_env(),
            "params": dict(params or {}),
            "metrics": dict(metrics or {}),
            "flavor": flavor or ("mlflow" if (Path(path) / "MLmodel").is_file() else None),
        }
        return self._push(path, name, namespace, description, tags, metadata, lineage, exclude, progress,
                          on_transfer, listener)

    def push(self, path: str | Path, name: str, namespace: str | None = None, description: str | None = None,
             tags: Iterable[str] | None = None, metadata: dict | None = None, *,
             exclude: Iterable[str] = DEFAULT_EXCLUDE, progress: bool | None = None,
             on_transfer: Callable[[int], None] | None = None, listener: Listener | None = None) -> PushResult:
        """:meth:`register` with no datasets, params or metrics."""
        return self.register(path, name, namespace=namespace, description=description, tags=tags,
                             metadata=metadata, exclude=exclude, progress=progress, on_transfer=on_transfer,
                             listener=listener)
