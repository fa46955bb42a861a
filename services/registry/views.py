"""The JSON shapes of API.md: every response body of the registry is made here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .models import Artifact, Version

if TYPE_CHECKING:
    from .uploads import UploadState


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z``, as API.md says."""
    return moment.isoformat(timespec="milliseconds") + "Z" if moment else None


def artifact_view(artifact: Artifact, aliases: dict[str, int], tags: list[str]) -> dict[str, Any]:
    return {
        "kind": artifact.kind,
        "namespace": artifact.namespace,
        "name": artifact.name,
        "full_name": artifact.full_name,
        "description": artifact.description,
        "tags": sorted(tags),
        "created_at": iso(artifact.created_at),
        "updated_at": iso(artifact.updated_at),
        "created_by": artifact.created_by,
        "latest": artifact.latest,
        "aliases": ({"latest": artifact.latest} if artifact.latest else {}) | aliases,
    }


def version_view(
    version: Version,
    artifact: Artifact,
    aliases: list[str],
    files: bool = True,
    lineage_datasets: list[str] | None = None,
    used_by: list[str] | None = None,
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "artifact": artifact.full_name,
        "kind": artifact.kind,
        "number": version.number,
        "ref": f"{artifact.full_name}:{version.number}",
        "created_at": iso(version.created_at),
        "created_by": version.created_by,
        "size": version.size,
        "file_count": version.file_count,
        "metadata": version.meta or {},
        "aliases": (["latest"] if artifact.latest == version.number else []) + sorted(aliases),
    }
    if files:
        view["files"] = [
            {"path": f.path, "size": f.size, "sha256": f.sha256, "media_type": f.media_type} for f in version.files
        ]
    if artifact.kind == "models":
        view["lineage"] = {
            "datasets": sorted(lineage_datasets or []),
            "workspace": version.workspace,
            "user": version.created_by,
            "params": version.params or {},
            "metrics": version.metrics or {},
            "flavor": version.flavor,
        }
    elif used_by is not None:
        view["used_by"] = sorted(used_by)
    return view


def alias_view(alias: str, number: int) -> dict[str, Any]:
    """The answer to setting an alias: which version it names now."""
    return {"alias": alias, "version": number}


# -- uploads -------------------------------------------------------------------------------------


def unchanged_view(version: dict[str, Any]) -> dict[str, Any]:
    """The answer to a push whose files equal the latest version's: that version."""
    return {"unchanged": True, "version": version}


def upload_view(state: UploadState, transfers: Mapping[str, dict | None]) -> dict[str, Any]:
    """The Upload: each file, whether its content is stored, and how to send it (``transfers``: sha256 -> transfer)."""
    return {
        "id": state.id,
        "status": state.status,
        "artifact": state.full_name,
        "kind": state.kind,
        "expires_at": iso(state.expires_at),
        "files": [upload_file_view(f, f["sha256"] in state.stored, transfers.get(f["sha256"])) for f in state.files],
    }


def upload_file_view(file: Mapping[str, Any], present: bool, transfer: dict | None = None) -> dict[str, Any]:
    """A file of an Upload; ``transfer`` is None when nothing is to be sent."""
    return {"path": file["path"], "sha256": file["sha256"], "size": file["size"], "present": present,
            "transfer": transfer}


def empty_transfer_view() -> dict[str, Any]:
    """An empty file: nothing to send."""
    return {"method": "none"}


def stream_transfer_view(url: str, offset: int) -> dict[str, Any]:
    """A file sent through the service: PUT its bytes from ``offset`` to ``url``."""
    return {"method": "stream", "url": url, "offset": offset}


def multipart_transfer_view(part_size: int, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A file sent to S3 as presigned multipart ``parts`` (made by :func:`part_view`)."""
    return {
        "method": "s3-multipart",
        "part_size": part_size,
        "parts": parts,
        "received": sum(p["size"] for p in parts if p["done"]),
    }


def part_view(number: int, size: int, done: bool, url: str | None, crc32: str | None) -> dict[str, Any]:
    """One part of a multipart transfer; ``url`` (None once done) is signed with ``crc32`` where there is one."""
    return {
        "number": number,
        "size": size,
        "done": done,
        "url": url,
        "headers": {"x-amz-checksum-crc32": crc32} if crc32 else {},
    }


def blob_received_view(sha256: str, received: int) -> dict[str, Any]:
    """The answer to a streamed PUT: the bytes of the file received so far."""
    return {"sha256": sha256, "received": received}


def download_url_view(url: str) -> dict[str, Any]:
    """Where to download a file from, for clients that follow no redirects (``?redirect=false``)."""
    return {"url": url}
