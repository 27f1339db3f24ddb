"""The ledger's tables, declared on the one ``MetaData`` and made by revision 0004.

A forecast row is one day of one issued path: (user, coin, model, version, origin,
horizon) is its key, so asking the same thing twice stores it once, and the first answer
stands (records are never updated). Scores live in their own table, one row per forecast
once its target day is stored: the forecast itself stays exactly as it was issued.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from coincast.db.engine import metadata

__all__ = ["ledger_table", "scores_table", "tracked_table", "daily_runs_table"]

ledger_table = Table(
    "forecast_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(128), nullable=False),
    Column("coin_id", String(128), nullable=False),
    # A saved model's name ("owner/name" when it is another user's public model), or
    # "preset:NAME" for a network trained for this one forecast.
    Column("model", String(256), nullable=False),
    Column("version", String(32), nullable=False),  # "" for a preset
    Column("origin_date", Date, nullable=False),  # the last known day
    Column("horizon", Integer, nullable=False),  # days after the origin
    Column("target_date", Date, nullable=False),
    Column("point", Float, nullable=False),
    Column("lower", Float, nullable=True),
    Column("upper", Float, nullable=True),
    Column("naive", Float, nullable=False),  # the origin's price: tomorrow = today
    Column("source", String(16), nullable=False),  # cli | api | daily
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint(
        "user", "coin_id", "model", "version", "origin_date", "horizon", name="uq_forecast_ledger"
    ),
)

scores_table = Table(
    "ledger_scores",
    metadata,
    Column(
        "forecast_id",
        Integer,
        ForeignKey("forecast_ledger.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("actual", Float, nullable=False),
    Column("error", Float, nullable=False),  # point - actual
    Column("naive_error", Float, nullable=False),  # naive - actual
    Column("inside", Boolean, nullable=True),  # None when the forecast had no interval
    Column("scored_at", DateTime(timezone=True), nullable=False),
)

tracked_table = Table(
    "ledger_tracked",
    metadata,
    Column("user", String(128), primary_key=True),
    Column("coin_id", String(128), primary_key=True),
    Column("model", String(256), primary_key=True),
    Column("days", Integer, nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
)

# One row per UTC day the daily job ran: its primary key is the lock that keeps several
# servers on one database from running the job twice (the second insert fails).
daily_runs_table = Table(
    "daily_runs",
    metadata,
    Column("day", Date, primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("runner", String(256), nullable=False),
    Column("ok", Boolean, nullable=True),
    Column("message", Text, nullable=True),
)
