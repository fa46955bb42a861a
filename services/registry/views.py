"""The JSON shapes of API.md, made from the tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models import Artifact, Version


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


def page(items: list, total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}
