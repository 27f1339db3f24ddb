"""Training jobs: one row per job, so every server process sees every job.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Like 0001, it adopts a table that ``create_all`` already made.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "training_jobs" in sa.inspect(op.get_bind()).get_table_names():
        return  # made by create_all before this revision: adopt it as it is
    op.create_table(
        "training_jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("spec_json", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("epochs", sa.Integer, nullable=True),
        sa.Column("history_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("result_json", sa.Text, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("training_jobs")
