"""Artifacts, versions and aliases: plain functions on a database session.

Handlers check permissions, then call these through ``Database.run``; tests may call them
directly.  Missing things raise ``APIError(404)``, conflicts ``APIError(409)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from sqlalchemy import ColumnElement, and_, delete, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ..errors import APIError
from ..paging import PageRequest, keyset_page, partitioned_page
from .models import Alias, Artifact, ArtifactTag, Blob, LineageDataset, Version, utcnow
from .views import alias_view, artifact_view, version_view

#: ``visible(kind, namespace)``: may the caller read that kind in that namespace?
Visible = Callable[[str, str], bool]
#: kind -> the namespaces whose artifacts of that kind the caller may read (None: every namespace), as
#: ``Permissions.readable_namespaces`` gives them: `Visible` for SQL, where a callable cannot go.
Readable = Mapping[str, set[str] | None]


def readable_clause(readable: Readable) -> ColumnElement[bool]:
    """The condition on `Artifact` rows the caller may read; false when they may read none."""
    clauses: list[ColumnElement[bool]] = []
    for kind, namespaces in sorted(readable.items()):
        if namespaces is None:
            clauses.append(Artifact.kind == kind)
        elif namespaces:
            clauses.append(and_(Artifact.kind == kind, Artifact.namespace.in_(sorted(namespaces))))
    return or_(false(), *clauses)


def find_artifact(session: Session, kind: str, namespace: str, name: str, lock: bool = False) -> Artifact | None:
    query = select(Artifact).where(Artifact.kind == kind, Artifact.namespace == namespace, Artifact.name == name)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def get_artifact(session: Session, kind: str, namespace: str, name: str, lock: bool = False) -> Artifact:
    artifact = find_artifact(session, kind, namespace, name, lock)
    if artifact is None:
        raise APIError(404, f"No {kind[:-1]} {namespace}/{name}.")
    return artifact


def create_artifact(
    session: Session, kind: str, namespace: str, name: str, user: str, description: str = "",
    tags: Iterable[str] = (),
) -> Artifact:
    """A new artifact; 409 if ``namespace/name`` exists."""
    if find_artifact(session, kind, namespace, name):
        raise APIError(409, f"{kind[:-1].capitalize()} {namespace}/{name} exists already.")
    artifact = Artifact(
        kind=kind, namespace=namespace, name=name, description=description, created_by=user,
        tags=[ArtifactTag(tag=t) for t in tags], next_number=1,
    )
    session.add(artifact)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise APIError(409, f"{kind[:-1].capitalize()} {namespace}/{name} exists already.") from None
    return artifact


def _aliases_of(session: Session, artifact_ids: list[int]) -> dict[int, dict[str, int]]:
    rows = session.execute(
        select(Alias.artifact_id, Alias.name, Version.number)
        .join(Version, Alias.version_id == Version.id)
        .where(Alias.artifact_id.in_(artifact_ids))
    )
    found: dict[int, dict[str, int]] = {i: {} for i in artifact_ids}
    for artifact_id, name, number in rows:
        found[artifact_id][name] = number
    return found


def _tags_of(session: Session, artifact_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {i: [] for i in artifact_ids}
    for artifact_id, tag in session.execute(
        select(ArtifactTag.artifact_id, ArtifactTag.tag).where(ArtifactTag.artifact_id.in_(artifact_ids))
    ):
        found[artifact_id].append(tag)
    return found


def artifact_json(session: Session, artifact: Artifact) -> dict:
    return artifact_view(artifact, _aliases_of(session, [artifact.id])[artifact.id], [t.tag for t in artifact.tags])


def list_artifacts(
    session: Session, kind: str, namespaces: set[str] | None, tags: list[str], text: str | None,
    paging: PageRequest,
) -> dict:
    """One page of the artifacts in ``namespaces`` (None: all) that carry every tag and match ``text``,
    by namespace and name, each namespace a range of the kind-namespace-name unique index."""
    query = select(Artifact).where(Artifact.kind == kind)
    for tag in tags:
        query = query.where(
            select(ArtifactTag.artifact_id)
            .where(ArtifactTag.artifact_id == Artifact.id, ArtifactTag.tag == tag)
            .exists()
        )
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(Artifact.name.ilike(pattern, escape="\\"), Artifact.description.ilike(pattern, escape="\\"))
        )
    if namespaces is None:
        found = keyset_page(session, query, (Artifact.namespace, Artifact.name), paging)
    else:
        found = partitioned_page(session, query, Artifact.namespace, namespaces, Artifact.name, paging)
    ids = [a.id for a in found.rows]
    aliases, tags_by_id = _aliases_of(session, ids), _tags_of(session, ids)
    return found.json([artifact_view(a, aliases[a.id], tags_by_id[a.id]) for a in found.rows])


def update_artifact(
    session: Session, kind: str, namespace: str, name: str, description: str | None, tags: list[str] | None
) -> dict:
    artifact = get_artifact(session, kind, namespace, name)
    if description is not None:
        artifact.description = description
    if tags is not None:
        artifact.tags = [ArtifactTag(tag=t) for t in tags]
    artifact.updated_at = utcnow()
    session.flush()
    return artifact_json(session, artifact)


def delete_artifact(session: Session, kind: str, namespace: str, name: str) -> None:
    """Remove the artifact with its versions, aliases and upload sessions; the GC frees the blobs."""
    artifact = get_artifact(session, kind, namespace, name)
    session.delete(artifact)


def resolve_version(session: Session, artifact: Artifact, ref: int | str) -> Version:
    """The version ``ref`` (a number or an alias) names; 404 if none."""
    if ref == "latest":
        if not artifact.latest:
            raise APIError(404, f"{artifact.full_name} has no versions yet.")
        ref = artifact.latest
    if isinstance(ref, int):
        query = select(Version).where(Version.artifact_id == artifact.id, Version.number == ref)
    else:
        query = select(Version).join(Alias, Alias.version_id == Version.id).where(
            Alias.artifact_id == artifact.id, Alias.name == ref
        )
    version = session.scalars(query.options(selectinload(Version.files))).first()
    if version is None:
        raise APIError(404, f"No version {artifact.full_name}{f':{ref}' if isinstance(ref, int) else f'@{ref}'}.")
    return version


def version_json(session: Session, artifact: Artifact, version: Version, visible: Visible, files: bool = True) -> dict:
    aliases = session.scalars(select(Alias.name).where(Alias.version_id == version.id)).all()
    if artifact.kind == "models":
        refs = session.scalars(select(LineageDataset.ref).where(LineageDataset.model_version_id == version.id)).all()
        return version_view(version, artifact, list(aliases), files, lineage_datasets=list(refs))
    users = session.execute(
        select(Artifact.namespace, Artifact.name, Version.number)
        .join(Version, Version.artifact_id == Artifact.id)
        .join(LineageDataset, LineageDataset.model_version_id == Version.id)
        .where(LineageDataset.dataset_version_id == version.id)
    )
    used_by = [f"{ns}/{name}:{number}" for ns, name, number in users if visible("models", ns)]
    return version_view(version, artifact, list(aliases), files, used_by=used_by)


def get_version(
    session: Session, kind: str, namespace: str, name: str, ref: int | str, visible: Visible
) -> dict:
    artifact = get_artifact(session, kind, namespace, name)
    return version_json(session, artifact, resolve_version(session, artifact, ref), visible)


def list_versions(session: Session, kind: str, namespace: str, name: str, paging: PageRequest) -> dict:
    """One page of an artifact's versions, newest first."""
    artifact = get_artifact(session, kind, namespace, name)
    found = keyset_page(session, select(Version).where(Version.artifact_id == artifact.id), (Version.number,),
                        paging, descending=True)
    aliases: dict[int, list[str]] = {}
    for version_id, alias in session.execute(
        select(Alias.version_id, Alias.name).where(Alias.version_id.in_([v.id for v in found.rows]))
    ):
        aliases.setdefault(version_id, []).append(alias)
    return found.json([version_view(v, artifact, aliases.get(v.id, []), files=False) for v in found.rows])


def file_of(session: Session, kind: str, namespace: str, name: str, ref: int | str, path: str) -> tuple[dict, str]:
    """The manifest entry of ``path`` in a version, and its blob's storage key."""
    artifact = get_artifact(session, kind, namespace, name)
    version = resolve_version(session, artifact, ref)
    entry = next((f for f in version.files if f.path == path), None)
    if entry is None:
        raise APIError(404, f"No file {path!r} in {artifact.full_name}:{version.number}.")
    blob = session.get(Blob, entry.sha256)
    if blob is None:
        raise APIError(404, f"The content of {path!r} is missing from storage; ask an admin.")
    return {"path": entry.path, "size": entry.size, "sha256": entry.sha256, "media_type": entry.media_type}, blob.key


def delete_version(session: Session, kind: str, namespace: str, name: str, number: int) -> None:
    """Remove a version (its aliases go with it); ``latest`` moves to the newest left."""
    artifact = get_artifact(session, kind, namespace, name, lock=True)
    version = resolve_version(session, artifact, number)
    session.delete(version)
    session.flush()
    artifact.latest = session.scalar(select(func.max(Version.number)).where(Version.artifact_id == artifact.id))
    artifact.updated_at = utcnow()


def set_alias(session: Session, kind: str, namespace: str, name: str, alias: str, number: int) -> dict:
    artifact = get_artifact(session, kind, namespace, name, lock=True)
    version = resolve_version(session, artifact, number)
    existing = session.get(Alias, (artifact.id, alias))
    if existing:
        existing.version_id = version.id
    else:
        session.add(Alias(artifact_id=artifact.id, name=alias, version_id=version.id))
    artifact.updated_at = utcnow()
    return alias_view(alias, version.number)


def delete_alias(session: Session, kind: str, namespace: str, name: str, alias: str) -> None:
    artifact = get_artifact(session, kind, namespace, name)
    removed = session.execute(delete(Alias).where(Alias.artifact_id == artifact.id, Alias.name == alias)).rowcount
    if not removed:
        raise APIError(404, f"{artifact.full_name} has no alias {alias!r}.")
