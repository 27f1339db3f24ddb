"""The market-data tables (used by ``coincast.data.market.cache``).

Declared here, made and changed only by the one migration runner
(``coincast.db.migrate``, revision 0003 onwards): these tables share the database URL of
the model store, users and jobs, so they share its one schema and one history of changes.
To change one, edit its ``Table`` and add a revision; ``tests/integration/test_migrations.py``
fails while the two disagree.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Float, Integer, String, Table, Text

from coincast.db.engine import metadata

__all__ = ["coins_table", "daily_table", "fetch_log_table", "missing_coins_table"]

coins_table = Table(
    "coins",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("symbol", String(64), nullable=False),
    Column("name", String(256), nullable=False),
    # NULL once a coin drops out of the latest top list (the list is a snapshot).
    Column("volume_rank", Integer, nullable=True),
    Column("market_cap_rank", Integer, nullable=True),
    Column("current_price", Float, nullable=True),
    Column("total_volume", Float, nullable=True),
    Column("market_cap", Float, nullable=True),
    Column("high_24h", Float, nullable=True),
    Column("low_24h", Float, nullable=True),
    Column("price_change_percentage_24h", Float, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

daily_table = Table(
    "daily",
    metadata,
    Column("coin_id", String(128), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("price", Float, nullable=False),
    Column("volume", Float, nullable=True),
    Column("market_cap", Float, nullable=True),
    Column("source", String(16), nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
)

fetch_log_table = Table(
    "fetch_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("coin_id", String(128), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("requested_days", Integer, nullable=True),
    Column("message", Text, nullable=True),
)


# Ids CoinGecko answered "coin not found" for, and when: a top list can name coins whose
# history CoinGecko does not serve, and asking again on every refresh only spends quota.
missing_coins_table = Table(
    "missing_coins",
    metadata,
    Column("coin_id", String(128), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Column("message", Text, nullable=True),
)
