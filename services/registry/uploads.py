"""Upload sessions in the database: declare, record, look up, and commit as a version.

The storage side of a session (multipart uploads, staged bytes, verification) is in
``transfers.py``; these functions only read and write tables, each in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mllab.client.protocol import manifest_digest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import APIError
from .catalog import Readable, Visible, find_artifact, get_artifact, readable_clause, resolve_version, version_json
from .models import Artifact, Blob, LineageDataset, Upload, UploadBlob, Version, VersionFile, utcnow

_CHUNK = 1000  # values per IN (...) list


@dataclass
class Declared:
    """A validated ``POST .../uploads`` body, and who sent it."""

    kind: str
    namespace: str
    name: str
    user: str
    files: list[dict]
    metadata: dict = field(default_factory=dict)
    #: models only: {"datasets": [(namespace, name, ref)], "workspace", "params", "metrics", "flavor"}
    lineage: dict | None = None
    #: sha256 -> the CRC32 of each S3 part, where the client declared them
    part_crc32: dict[str, list[str]] = field(default_factory=dict)

    @property
    def blobs(self) -> dict[str, int]:
        """Distinct content of the manifest: sha256 -> size."""
        return {f["sha256"]: f["size"] for f in self.files}


@dataclass
class Multipart:
    """A blob's presigned multipart upload to S3."""

    key: str | None
    multipart_id: str | None
    part_size: int | None
    #: The CRC32 each part's URL is signed with; None: S3 checks no part checksums.
    part_crc32: list[str] | None = None


@dataclass
class Plan:
    """What a new session needs: nothing (unchanged), or the blobs it need not send (``present``)."""

    unchanged: dict | None
    present: set[str]
    lineage: dict | None


def touch_blobs(session: Session, blobs: dict[str, int], readable: Readable) -> set[str]:
    """The blobs among ``blobs`` (sha256 -> size) the caller may count on without sending them; marks
    them as in use now.

    A sha256 is no proof of possession (it is in every manifest and presigned URL): a blob counts
    only if a version the caller may read references it, with the declared size. Anything else,
    stored or not, is missing alike, so the answer tells nothing about content the caller cannot
    read. One statement per chunk: blobs by primary key, each checked through the version files'
    sha256 index and the versions' and artifacts' primary keys (a correlated EXISTS: with an IN
    (subquery) PostgreSQL scanned whole tables for a reader of every namespace).

    The update takes each row's lock, so a concurrent GC either deleted the row first (and the
    blob counts as missing) or sees the fresh ``last_used_at`` and spares it.
    """
    present: set[str] = set()
    shas = sorted(blobs)
    now = utcnow()
    for i in range(0, len(shas), _CHUNK):
        readable_version = (
            select(VersionFile.sha256)
            .join(Version, Version.id == VersionFile.version_id)
            .join(Artifact, Artifact.id == Version.artifact_id)
            .where(VersionFile.sha256 == Blob.sha256, readable_clause(readable))
            .exists()
        )
        rows = session.execute(
            update(Blob).where(Blob.sha256.in_(shas[i : i + _CHUNK]), readable_version).values(last_used_at=now)
            .returning(Blob.sha256, Blob.size)
        )
        # A different declared size is simply not this blob: the client sends its bytes, which fail the check.
        present.update(sha256 for sha256, size in rows if size == blobs[sha256])
    return present


def resolve_lineage(session: Session, declared: Declared) -> dict | None:
    if declared.kind != "models":
        return None
    lineage = dict(declared.lineage or {})
    datasets = []
    for namespace, name, ref in lineage.get("datasets", []):
        artifact = get_artifact(session, "datasets", namespace, name)
        version = resolve_version(session, artifact, ref)
        datasets.append({"ref": f"{artifact.full_name}:{version.number}", "version_id": version.id})
    flavor = lineage.get("flavor")
    if flavor is None and any(f["path"] == "MLmodel" for f in declared.files):
        flavor = "mlflow"
    return {
        "datasets": datasets,
        "workspace": lineage.get("workspace"),
        "params": lineage.get("params") or {},
        "metrics": lineage.get("metrics") or {},
        "flavor": flavor,
    }


def plan_upload(session: Session, declared: Declared, visible: Visible, readable: Readable) -> Plan:
    """Answer an unchanged push with the latest version; else find which blobs the caller need not send."""
    lineage = resolve_lineage(session, declared)
    artifact = find_artifact(session, declared.kind, declared.namespace, declared.name)
    if artifact is not None and artifact.latest:
        latest = resolve_version(session, artifact, artifact.latest)
        if latest.manifest_digest == manifest_digest(declared.files):
            return Plan(version_json(session, artifact, latest, visible), set(), lineage)
    return Plan(None, touch_blobs(session, declared.blobs, readable), lineage)


def record_upload(
    session: Session, upload_id: str, declared: Declared, plan: Plan, multiparts: dict[str, Multipart],
    expires_at: datetime,
) -> None:
    """Store the session (and the artifact, if this is its first push).

    ``multiparts``: sha256 -> the presigned transfer of each blob to send to S3.
    """
    artifact = find_artifact(session, declared.kind, declared.namespace, declared.name)
    if artifact is None:
        artifact = Artifact(
            kind=declared.kind, namespace=declared.namespace, name=declared.name, created_by=declared.user,
            description="", next_number=1,
        )
        try:
            # Added inside the savepoint, so that its rollback takes the duplicate out of the session too.
            with session.begin_nested():
                session.add(artifact)
        except IntegrityError:  # created by a concurrent first push
            artifact = get_artifact(session, declared.kind, declared.namespace, declared.name)
    upload = Upload(
        id=upload_id, artifact_id=artifact.id, status="open", expires_at=expires_at, created_by=declared.user,
        files=declared.files, meta=declared.metadata, lineage=plan.lineage,
    )
    session.add(upload)
    for sha256, size in declared.blobs.items():
        multipart = multiparts.get(sha256, Multipart(None, None, None))
        session.add(UploadBlob(
            upload_id=upload_id, sha256=sha256, size=size, present=sha256 in plan.present, key=multipart.key,
            multipart_id=multipart.multipart_id, part_size=multipart.part_size, part_crc32=multipart.part_crc32,
        ))


@dataclass
class UploadState:
    """A snapshot of a session, for describing it and completing it outside the transaction."""

    id: str
    status: str
    kind: str
    namespace: str
    name: str
    created_by: str
    expires_at: datetime
    files: list[dict]
    blobs: list[dict]
    #: sha256 -> key of the session's blobs that it has: in the store, and either present when it began or
    #: verified from its own bytes. Nothing more is sent for them; the rest count as missing.
    stored: dict[str, str]
    #: sha256 -> key of every blob of the session that is in the store, whoever put it there: no
    #: transfer that became a blob's content may be deleted.
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"


def upload_state(session: Session, upload_id: str) -> UploadState:
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise APIError(404, f"No upload session {upload_id}.")
    blobs = [
        {"sha256": b.sha256, "size": b.size, "present": b.present, "verified": b.verified, "key": b.key,
         "multipart_id": b.multipart_id, "part_size": b.part_size, "part_crc32": b.part_crc32}
        for b in upload.blobs
    ]
    keys = stored_blobs(session, [b["sha256"] for b in blobs])
    stored = {b["sha256"]: keys[b["sha256"]] for b in blobs if (b["present"] or b["verified"]) and b["sha256"] in keys}
    artifact = upload.artifact
    return UploadState(
        upload.id, upload.status, artifact.kind, artifact.namespace, artifact.name, upload.created_by,
        upload.expires_at, upload.files, blobs, stored, keys,
    )


def stored_blobs(session: Session, shas: list[str]) -> dict[str, str]:
    """The stored blobs among ``shas``: sha256 -> key."""
    found: dict[str, str] = {}
    for i in range(0, len(shas), _CHUNK):
        rows = session.execute(select(Blob.sha256, Blob.key).where(Blob.sha256.in_(shas[i : i + _CHUNK])))
        found.update((sha256, key) for sha256, key in rows)
    return found


def record_blob(session: Session, sha256: str, size: int, key: str) -> bool:
    """Note verified content in the store; False if another session stored it first."""
    if session.get(Blob, sha256) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Blob(sha256=sha256, size=size, key=key))
    except IntegrityError:
        return False
    return True


def record_verified(session: Session, upload_id: str, sha256: str, size: int, key: str | None) -> str | None:
    """The session's own bytes for ``sha256`` passed the checks: it may use the blob now.

    ``key``: where those bytes are, to become the blob if the store lacks it; None when they were
    dropped because the blob was stored already. Returns the key of the blob in the store (None if
    it is not there: then the session has nothing to use, and its client is asked for the bytes again).
    Both are written in one transaction, so no blob is ever this session's without it knowing.
    """
    if key is not None:
        record_blob(session, sha256, size, key)
    blob = session.get(Blob, sha256)
    if blob is None:
        return None
    blob.last_used_at = utcnow()
    session.execute(
        update(UploadBlob).where(UploadBlob.upload_id == upload_id, UploadBlob.sha256 == sha256).values(verified=True)
    )
    return blob.key


def renew_multipart(session: Session, upload_id: str, sha256: str, key: str, multipart_id: str) -> None:
    """A blob failed verification: its transfer starts over with a new multipart upload."""
    blob = session.get(UploadBlob, (upload_id, sha256))
    blob.key, blob.multipart_id = key, multipart_id


def close_upload(session: Session, upload_id: str, status: str) -> None:
    """Abort (or expire) an open session; 409 if it is not open."""
    upload = session.get(Upload, upload_id, with_for_update=True)
    if upload is None:
        raise APIError(404, f"No upload session {upload_id}.")
    if upload.status != "open":
        raise APIError(409, f"Upload {upload_id} is {upload.status}, not open.")
    upload.status = status


def commit_version(session: Session, upload_id: str, visible: Visible) -> tuple[int, dict]:
    """Turn a session whose blobs are all stored into the next version, atomically.

    Returns ``(201, Version)``, or ``(200, Version)`` when the latest version has the same
    manifest (it was pushed meanwhile).  409 if the session is no longer open or a blob is missing.
    """
    upload = session.get(Upload, upload_id, with_for_update=True)
    if upload is None:
        raise APIError(404, f"No upload session {upload_id}.")
    if upload.status != "open":
        raise APIError(409, f"Upload {upload_id} is {upload.status}; start a new upload to make another version.")
    artifact = session.get(Artifact, upload.artifact_id, with_for_update=True)
    stored = stored_blobs(session, [b.sha256 for b in upload.blobs])
    # Stored is not enough: the session must have proved it holds the content (present when it began:
    # readable by the caller; or verified from its own bytes), whoever else stored it meanwhile.
    missing = {b.sha256 for b in upload.blobs if not (b.present or b.verified) or b.sha256 not in stored}
    if missing:
        paths = [f["path"] for f in upload.files if f["sha256"] in missing]
        raise APIError(409, f"Content not received for {', '.join(map(repr, paths[:5]))}; send it, then complete.")
    digest = manifest_digest(upload.files)
    if artifact.latest:
        latest = resolve_version(session, artifact, artifact.latest)
        if latest.manifest_digest == digest:
            upload.status, upload.version_id = "completed", latest.id
            return 200, version_json(session, artifact, latest, visible)
    lineage = upload.lineage or {}
    version = Version(
        artifact_id=artifact.id, number=artifact.next_number, created_by=upload.created_by,
        size=sum(f["size"] for f in upload.files), file_count=len(upload.files), manifest_digest=digest,
        meta=upload.meta or {}, workspace=lineage.get("workspace"), params=lineage.get("params"),
        metrics=lineage.get("metrics"), flavor=lineage.get("flavor"),
        files=[VersionFile(**f) for f in upload.files],
    )
    session.add(version)
    session.flush()
    for dataset in lineage.get("datasets", []):
        # The dataset version may have been deleted since the session began: keep the name.
        dataset_version = session.get(Version, dataset["version_id"])
        session.add(LineageDataset(
            model_version_id=version.id, ref=dataset["ref"], dataset_version_id=dataset_version and dataset_version.id,
        ))
    artifact.latest = version.number
    artifact.next_number += 1
    artifact.updated_at = utcnow()
    upload.status, upload.version_id = "completed", version.id
    session.flush()
    return 201, version_json(session, artifact, version, visible)

