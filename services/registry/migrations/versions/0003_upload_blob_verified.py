"""Dedup proves possession: an upload session records which blobs its own bytes were verified for

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Sessions open during the upgrade start with nothing verified: their blobs not present at declaration
    # must be sent (again), as every new session's are.
    with op.batch_alter_table("registry_upload_blobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("registry_upload_blobs", schema=None) as batch_op:
        batch_op.drop_column("verified")
