"""The registry's tables (SQLAlchemy 2).  Their schema is made by the Alembic migrations in
``migrations/``; a test checks the two agree.

Table names start with ``registry_`` so the registry may share a database with the hub.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..db import utcnow


class Base(DeclarativeBase):
    pass


class Artifact(Base):
    """A dataset or a model: ``namespace/name`` with numbered versions."""

    __tablename__ = "registry_artifacts"
    __table_args__ = (UniqueConstraint("kind", "namespace", "name", name="uq_registry_artifacts_kind_ns_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    namespace: Mapped[str] = mapped_column(String(300), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))
    #: Number of the newest version (the ``latest`` alias), None while there is none.
    latest: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Numbers are never reused, so ``name:3`` means one content forever.
    next_number: Mapped[int] = mapped_column(Integer, default=1)

    tags: Mapped[list[ArtifactTag]] = relationship(cascade="all, delete-orphan", passive_deletes=True)

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"


class ArtifactTag(Base):
    __tablename__ = "registry_artifact_tags"

    artifact_id: Mapped[int] = mapped_column(ForeignKey("registry_artifacts.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)


class Version(Base):
    """An immutable manifest of files plus metadata (and, for models, lineage)."""

    __tablename__ = "registry_versions"
    __table_args__ = (UniqueConstraint("artifact_id", "number", name="uq_registry_versions_artifact_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("registry_artifacts.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    file_count: Mapped[int] = mapped_column(Integer)
    #: sha256 of the canonical (path, size, sha256) list: equal digests, equal content.
    manifest_digest: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    workspace: Mapped[str | None] = mapped_column(String(255), nullable=True)
    params: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    metrics: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    flavor: Mapped[str | None] = mapped_column(String(64), nullable=True)

    artifact: Mapped[Artifact] = relationship()
    files: Mapped[list[VersionFile]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="VersionFile.path"
    )


class VersionFile(Base):
    __tablename__ = "registry_version_files"

    version_id: Mapped[int] = mapped_column(ForeignKey("registry_versions.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(255))


class Blob(Base):
    """Verified content in the store."""

    __tablename__ = "registry_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Touched whenever an upload session counts on this blob; the GC spares recent blobs.
    last_used_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Alias(Base):
    """A user-set name (``production``) for a version; ``latest`` is `Artifact.latest`."""

    __tablename__ = "registry_aliases"

    artifact_id: Mapped[int] = mapped_column(ForeignKey("registry_artifacts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("registry_versions.id", ondelete="CASCADE"), index=True)

    version: Mapped[Version] = relationship()


class LineageDataset(Base):
    """A dataset version a model version was trained on."""

    __tablename__ = "registry_lineage_datasets"

    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("registry_versions.id", ondelete="CASCADE"), primary_key=True
    )
    #: ``users/alice/iris:3``, kept even if that dataset version is deleted later.
    ref: Mapped[str] = mapped_column(String(600), primary_key=True)
    dataset_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_versions.id", ondelete="SET NULL"), nullable=True, index=True
    )


class Upload(Base):
    """An upload session: the declared manifest, until it becomes a version (or expires)."""

    __tablename__ = "registry_uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("registry_artifacts.id", ondelete="CASCADE"), index=True)
    #: open, completed, aborted, expired
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    #: ``[{"path", "size", "sha256", "media_type"}]`` as declared
    files: Mapped[list] = mapped_column(JSON)
    meta: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    #: Resolved lineage of a model version (dataset refs with numbers), None for datasets.
    lineage: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_versions.id", ondelete="SET NULL"), nullable=True
    )

    artifact: Mapped[Artifact] = relationship()
    blobs: Mapped[list[UploadBlob]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


Index("ix_registry_uploads_status_expires", Upload.status, Upload.expires_at)


class UploadBlob(Base):
    """One distinct blob of an upload session, and how its bytes travel."""

    __tablename__ = "registry_upload_blobs"

    upload_id: Mapped[str] = mapped_column(ForeignKey("registry_uploads.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    #: When the session began, a version the caller may read referenced it: nothing to send.
    present: Mapped[bool] = mapped_column(Boolean, default=False)
    #: This session's own bytes for it were received and checked (sha256 and size). Only this or
    #: ``present`` lets the blob into the version: the store holding it (for someone else) does not.
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Presigned multipart uploads: the object key and S3's upload id.
    key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    multipart_id: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    part_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The declared CRC32 of each part, which S3 checks each part against (null: no part checksums).
    part_crc32: Mapped[list | None] = mapped_column(JSON, nullable=True)
