"""Model store and users: versions, models (with the version counter), hashed tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Tables are created only when absent: databases made by an earlier coincast (which
called ``create_all``) are adopted as they are instead of failing on "table exists".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "store_models" not in existing:
        op.create_table(
            "store_models",
            sa.Column("user", sa.String(64), primary_key=True),
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("public", sa.Boolean, nullable=False),
            sa.Column("last_version", sa.Integer, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        )
    if "store_model_versions" not in existing:
        op.create_table(
            "store_model_versions",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("user", sa.String(64), nullable=False),
            sa.Column("name", sa.String(64), nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("parent_version", sa.Integer, nullable=True),
            sa.Column("metrics_json", sa.Text, nullable=False),
            sa.Column("etag", sa.String(64), nullable=False),
            sa.Column("json_sha256", sa.String(64), nullable=False),
            sa.Column("weights_sha256", sa.String(64), nullable=False),
            sa.Column("json_size", sa.Integer, nullable=False),
            sa.Column("weights_size", sa.Integer, nullable=False),
            sa.Column("json_key", sa.String(512), nullable=False),
            sa.Column("weights_key", sa.String(512), nullable=False),
            # The database, not Python, guarantees one row per version number.
            sa.UniqueConstraint("user", "name", "version", name="uq_store_model_version"),
            sa.ForeignKeyConstraint(["user", "name"], ["store_models.user", "store_models.name"]),
        )
    if "server_users" not in existing:
        op.create_table(
            "server_users",
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("server_users")
    op.drop_table("store_model_versions")
    op.drop_table("store_models")
