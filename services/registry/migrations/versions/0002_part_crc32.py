"""Per-part CRC32s of presigned multipart uploads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 00:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registry_upload_blobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("part_crc32", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registry_upload_blobs", schema=None) as batch_op:
        batch_op.drop_column("part_crc32")
