"""Market data joins the one schema: coins, daily, fetch_log, missing_coins.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Until this revision the market cache kept its own recorded migrations: a
``schema_versions`` table with one row per component (``"market"``: 1 = coins, daily and
fetch_log; 2 = missing_coins too), run beside Alembic on the same database. Two histories
of one schema could disagree and needed two locks; from here on Alembic alone records it.

A database that cache made is adopted in place: its tables (and their rows) stay as they
are, whatever is missing for its recorded version is created, and the ``"market"`` record,
once read, is deleted with its table. A version newer than 2 comes from a coincast this
one does not know; upgrading it would guess at tables it cannot describe, so it stops.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from coincast.errors import StoreUnavailableError

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The newest version the market cache's own runner ever recorded.
_LAST_MARKET_VERSION = 2


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    if "schema_versions" in existing:
        _check_market_record(bind)
    if "coins" not in existing:
        op.create_table(
            "coins",
            sa.Column("id", sa.String(128), primary_key=True),
            sa.Column("symbol", sa.String(64), nullable=False),
            sa.Column("name", sa.String(256), nullable=False),
            sa.Column("volume_rank", sa.Integer, nullable=True),
            sa.Column("market_cap_rank", sa.Integer, nullable=True),
            sa.Column("current_price", sa.Float, nullable=True),
            sa.Column("total_volume", sa.Float, nullable=True),
            sa.Column("market_cap", sa.Float, nullable=True),
            sa.Column("high_24h", sa.Float, nullable=True),
            sa.Column("low_24h", sa.Float, nullable=True),
            sa.Column("price_change_percentage_24h", sa.Float, nullable=True),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        )
    if "daily" not in existing:
        op.create_table(
            "daily",
            sa.Column("coin_id", sa.String(128), primary_key=True),
            sa.Column("date", sa.Date, primary_key=True),
            sa.Column("price", sa.Float, nullable=False),
            sa.Column("volume", sa.Float, nullable=True),
            sa.Column("market_cap", sa.Float, nullable=True),
            sa.Column("source", sa.String(16), nullable=False),
            sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        )
    if "fetch_log" not in existing:
        op.create_table(
            "fetch_log",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("coin_id", sa.String(128), nullable=True),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("ok", sa.Boolean, nullable=False),
            sa.Column("rows", sa.Integer, nullable=False),
            sa.Column("requested_days", sa.Integer, nullable=True),
            sa.Column("message", sa.Text, nullable=True),
        )
    if "missing_coins" not in existing:  # absent in a version-1 market cache
        op.create_table(
            "missing_coins",
            sa.Column("coin_id", sa.String(128), primary_key=True),
            sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("message", sa.Text, nullable=True),
        )
    if "schema_versions" in existing:
        _retire_schema_versions(bind)


def _check_market_record(bind: sa.Connection) -> None:
    version = bind.execute(
        sa.text("SELECT version FROM schema_versions WHERE component = 'market'")
    ).scalar_one_or_none()
    if version is not None and int(version) > _LAST_MARKET_VERSION:
        raise StoreUnavailableError(
            f"The database's market tables are at version {version} of a newer coincast; "
            f"this one knows up to {_LAST_MARKET_VERSION}. Upgrade coincast, or point "
            "COINCAST_DATABASE_URL (or COINCAST_DATA_DIR) at another database."
        )


def _retire_schema_versions(bind: sa.Connection) -> None:
    """Delete the market record; drop the table unless another program keeps rows there."""
    bind.execute(sa.text("DELETE FROM schema_versions WHERE component = 'market'"))
    if bind.execute(sa.text("SELECT COUNT(*) FROM schema_versions")).scalar_one() == 0:
        op.drop_table("schema_versions")


def downgrade() -> None:
    op.drop_table("missing_coins")
    op.drop_table("fetch_log")
    op.drop_table("daily")
    op.drop_table("coins")
