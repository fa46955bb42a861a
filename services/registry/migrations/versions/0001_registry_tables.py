"""Registry tables

Revision ID: 0001
Revises:
Create Date: 2026-11-27 23:09:29.266969
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("namespace", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("latest", sa.Integer(), nullable=True),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "namespace", "name", name="uq_registry_artifacts_kind_ns_name"),
    )
    with op.batch_alter_table("registry_artifacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_artifacts_namespace"), ["namespace"], unique=False)

    op.create_table(
        "registry_blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    with op.batch_alter_table("registry_blobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_blobs_last_used_at"), ["last_used_at"], unique=False)

    op.create_table(
        "registry_artifact_tags",
        sa.Column("artifact_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["artifact_id"], ["registry_artifacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("artifact_id", "tag"),
    )
    with op.batch_alter_table("registry_artifact_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_artifact_tags_tag"), ["tag"], unique=False)

    op.create_table(
        "registry_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("artifact_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("manifest_digest", sa.String(length=64), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("workspace", sa.String(length=255), nullable=True),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("flavor", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["artifact_id"], ["registry_artifacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("artifact_id", "number", name="uq_registry_versions_artifact_number"),
    )
    with op.batch_alter_table("registry_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_versions_artifact_id"), ["artifact_id"], unique=False)

    op.create_table(
        "registry_aliases",
        sa.Column("artifact_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["artifact_id"], ["registry_artifacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["registry_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("artifact_id", "name"),
    )
    with op.batch_alter_table("registry_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_aliases_version_id"), ["version_id"], unique=False)

    op.create_table(
        "registry_lineage_datasets",
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=600), nullable=False),
        sa.Column("dataset_version_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["dataset_version_id"], ["registry_versions.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["model_version_id"], ["registry_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("model_version_id", "ref"),
    )
    with op.batch_alter_table("registry_lineage_datasets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registry_lineage_datasets_dataset_version_id"), ["dataset_version_id"], unique=False
        )

    op.create_table(
        "registry_uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("artifact_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("lineage", sa.JSON(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["artifact_id"], ["registry_artifacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["registry_versions.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("registry_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_uploads_artifact_id"), ["artifact_id"], unique=False)
        batch_op.create_index("ix_registry_uploads_status_expires", ["status", "expires_at"], unique=False)

    op.create_table(
        "registry_version_files",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["registry_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version_id", "path"),
    )
    with op.batch_alter_table("registry_version_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_version_files_sha256"), ["sha256"], unique=False)

    op.create_table(
        "registry_upload_blobs",
        sa.Column("upload_id", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=True),
        sa.Column("multipart_id", sa.String(length=1024), nullable=True),
        sa.Column("part_size", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["upload_id"], ["registry_uploads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("upload_id", "sha256"),
    )
    with op.batch_alter_table("registry_upload_blobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_upload_blobs_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("registry_upload_blobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_upload_blobs_sha256"))

    op.drop_table("registry_upload_blobs")
    with op.batch_alter_table("registry_version_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_version_files_sha256"))

    op.drop_table("registry_version_files")
    with op.batch_alter_table("registry_uploads", schema=None) as batch_op:
        batch_op.drop_index("ix_registry_uploads_status_expires")
        batch_op.drop_index(batch_op.f("ix_registry_uploads_artifact_id"))

    op.drop_table("registry_uploads")
    with op.batch_alter_table("registry_lineage_datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_lineage_datasets_dataset_version_id"))

    op.drop_table("registry_lineage_datasets")
    with op.batch_alter_table("registry_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_aliases_version_id"))

    op.drop_table("registry_aliases")
    with op.batch_alter_table("registry_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_versions_artifact_id"))

    op.drop_table("registry_versions")
    with op.batch_alter_table("registry_artifact_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_artifact_tags_tag"))

    op.drop_table("registry_artifact_tags")
    with op.batch_alter_table("registry_blobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_blobs_last_used_at"))

    op.drop_table("registry_blobs")
    with op.batch_alter_table("registry_artifacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_artifacts_namespace"))

    op.drop_table("registry_artifacts")
