"""Deployments, jobs and job runs

Revision ID: 0001
Revises:
Create Date: 2026-11-28 05:09:33.552856
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments_deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("model", sa.String(length=600), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("desired", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("handle", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("last_access", sa.DateTime(), nullable=True),
        sa.Column("idle_timeout", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace", "name", name="uq_deployments_deployments_ns_name"),
    )
    with op.batch_alter_table("deployments_deployments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployments_deployments_namespace"), ["namespace"], unique=False)

    op.create_table(
        "deployments_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.String(length=200), nullable=True),
        sa.Column("next_run", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace", "name", name="uq_deployments_jobs_ns_name"),
    )
    with op.batch_alter_table("deployments_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployments_jobs_namespace"), ["namespace"], unique=False)
        batch_op.create_index(batch_op.f("ix_deployments_jobs_next_run"), ["next_run"], unique=False)

    op.create_table(
        "deployments_job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("handle", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("log", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["deployments_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "number", name="uq_deployments_job_runs_job_number"),
    )
    with op.batch_alter_table("deployments_job_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployments_job_runs_job_id"), ["job_id"], unique=False)
        batch_op.create_index("ix_deployments_job_runs_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deployments_job_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_deployments_job_runs_status")
        batch_op.drop_index(batch_op.f("ix_deployments_job_runs_job_id"))

    op.drop_table("deployments_job_runs")
    with op.batch_alter_table("deployments_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_jobs_next_run"))
        batch_op.drop_index(batch_op.f("ix_deployments_jobs_namespace"))

    op.drop_table("deployments_jobs")
    with op.batch_alter_table("deployments_deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_deployments_namespace"))

    op.drop_table("deployments_deployments")
