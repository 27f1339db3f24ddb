"""The market-data tables and their recorded migrations (used by ``coincast.data.market.cache``).

Why recorded migrations of its own rather than the store's Alembic (``coincast.db.migrate``):
these tables are a cache that CoinGecko or a CSV can always rebuild, they change rarely,
and keeping them out of the store's revision chain lets either side evolve without
touching the other. So ``schema_versions`` records, per component (``"market"`` here), the
number of the last migration applied; :data:`MIGRATIONS` is an append-only list applied
in one transaction, once per process and database (sqlite-utils' scheme). Concurrent
first starts are serialised with the store's own helper (``coincast.db.locks``).
Moving to Alembic later is one revision that creates these tables if absent, then
``schema_versions`` can be dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    String,
    Table,
    Text,
    select,
    update,
)

from coincast.db.engine import metadata
from coincast.db.locks import OncePerDatabase, migration_transaction

__all__ = [
    "MIGRATIONS",
    "SCHEMA_COMPONENT",
    "coins_table",
    "daily_table",
    "ensure_schema",
    "fetch_log_table",
    "migrate",
    "missing_coins_table",
    "schema_versions",
]

SCHEMA_COMPONENT = "market"

schema_versions = Table(
    "schema_versions",
    metadata,
    Column("component", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

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


def _v1_initial(conn: Connection) -> None:
    metadata.create_all(conn, tables=[coins_table, daily_table, fetch_log_table], checkfirst=True)


def _v2_missing_coins(conn: Connection) -> None:
    metadata.create_all(conn, tables=[missing_coins_table], checkfirst=True)


# Append only: (version, description, step). Never edit a released step; add a new one.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "coins, daily and fetch_log tables", _v1_initial),
    (2, "missing_coins table", _v2_missing_coins),
]


def _now() -> datetime:
    return datetime.now(UTC)


_ONCE = OncePerDatabase()
_PG_LOCK_KEY = 0x6D6B7464  # "mktd": not the store's key, so the two never wait on each other


def ensure_schema(engine: Engine) -> None:
    """Run :func:`migrate` once per process and database, serialised across processes."""
    _ONCE.run(engine, lambda: migrate(engine))


def migrate(engine: Engine) -> int:
    """Apply the market migrations not yet recorded; return the schema version."""
    with migration_transaction(engine, lock_name=".market-lock", pg_key=_PG_LOCK_KEY) as conn:
        metadata.create_all(conn, tables=[schema_versions], checkfirst=True)
        current = conn.execute(
            select(schema_versions.c.version).where(schema_versions.c.component == SCHEMA_COMPONENT)
        ).scalar_one_or_none()
        version = int(current or 0)
        for number, _description, step in MIGRATIONS:
            if number > version:
                step(conn)
                version = number
        if current is None:
            conn.execute(
                schema_versions.insert().values(
                    component=SCHEMA_COMPONENT, version=version, applied_at=_now()
                )
            )
        elif version != current:
            conn.execute(
                update(schema_versions)
                .where(schema_versions.c.component == SCHEMA_COMPONENT)
                .values(version=version, applied_at=_now())
            )
    return version
