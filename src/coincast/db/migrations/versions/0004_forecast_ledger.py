"""The forecast ledger: forecast_ledger, ledger_scores, ledger_tracked, daily_runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Every forecast issued (CLI, API, page, daily job) is a row; scores arrive later in their
own table; ``daily_runs``' primary key is the lock that runs the daily job once a day
however many servers share the database.

A table already present (a database made by ``create_all`` from every declared table,
as 0001 adopts) is kept as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "forecast_ledger" not in existing:
        _ledger()
    if "ledger_scores" not in existing:
        _scores()
    if "ledger_tracked" not in existing:
        _tracked()
    if "daily_runs" not in existing:
        _daily_runs()


def _ledger() -> None:
    op.create_table(
        "forecast_ledger",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("coin_id", sa.String(128), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("origin_date", sa.Date, nullable=False),
        sa.Column("horizon", sa.Integer, nullable=False),
        sa.Column("target_date", sa.Date, nullable=False),
        sa.Column("point", sa.Float, nullable=False),
        sa.Column("lower", sa.Float, nullable=True),
        sa.Column("upper", sa.Float, nullable=True),
        sa.Column("naive", sa.Float, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "user",
            "coin_id",
            "model",
            "version",
            "origin_date",
            "horizon",
            name="uq_forecast_ledger",
        ),
    )


def _scores() -> None:
    op.create_table(
        "ledger_scores",
        sa.Column(
            "forecast_id",
            sa.Integer,
            sa.ForeignKey("forecast_ledger.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("actual", sa.Float, nullable=False),
        sa.Column("error", sa.Float, nullable=False),
        sa.Column("naive_error", sa.Float, nullable=False),
        sa.Column("inside", sa.Boolean, nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    )


def _tracked() -> None:
    op.create_table(
        "ledger_tracked",
        sa.Column("user", sa.String(128), primary_key=True),
        sa.Column("coin_id", sa.String(128), primary_key=True),
        sa.Column("model", sa.String(256), primary_key=True),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )


def _daily_runs() -> None:
    op.create_table(
        "daily_runs",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("runner", sa.String(256), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=True),
        sa.Column("message", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("daily_runs")
    op.drop_table("ledger_tracked")
    op.drop_table("ledger_scores")
    op.drop_table("forecast_ledger")
