"""Databases as earlier coincast versions left them, with rows, for the upgrade tests.

Frozen on purpose: the market tables below are what the market cache's former runner
(``schema_versions``, component ``"market"``) created at its versions 1 and 2, and the
store database is what Alembic's revision 0002 made. Declared ``Table``s of today must not
be used to build them, or a later change to a table would silently change "the past".
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)

from coincast.db import migrate as migrations

__all__ = [
    "MARKET_TABLES",
    "STORE_TABLES",
    "make_market_cache_database",
    "make_store_database_at_0002",
    "snapshot",
]

MARKET_TABLES = ("coins", "daily", "fetch_log", "missing_coins")
STORE_TABLES = ("store_models", "store_model_versions", "server_users", "training_jobs")
WHEN = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)


def _legacy_market(version: int) -> tuple[MetaData, dict[str, Table]]:
    md = MetaData()
    tables = {
        "schema_versions": Table(
            "schema_versions",
            md,
            Column("component", String(64), primary_key=True),
            Column("version", Integer, nullable=False),
            Column("applied_at", DateTime(timezone=True), nullable=False),
        ),
        "coins": Table(
            "coins",
            md,
            Column("id", String(128), primary_key=True),
            Column("symbol", String(64), nullable=False),
            Column("name", String(256), nullable=False),
            Column("volume_rank", Integer, nullable=True),
            Column("market_cap_rank", Integer, nullable=True),
            Column("current_price", Float, nullable=True),
            Column("total_volume", Float, nullable=True),
            Column("market_cap", Float, nullable=True),
            Column("high_24h", Float, nullable=True),
            Column("low_24h", Float, nullable=True),
            Column("price_change_percentage_24h", Float, nullable=True),
            Column("updated_at", DateTime(timezone=True), nullable=False),
        ),
        "daily": Table(
            "daily",
            md,
            Column("coin_id", String(128), primary_key=True),
            Column("date", Date, primary_key=True),
            Column("price", Float, nullable=False),
            Column("volume", Float, nullable=True),
            Column("market_cap", Float, nullable=True),
            Column("source", String(16), nullable=False),
            Column("stored_at", DateTime(timezone=True), nullable=False),
        ),
        "fetch_log": Table(
            "fetch_log",
            md,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("coin_id", String(128), nullable=True),
            Column("kind", String(32), nullable=False),
            Column("started_at", DateTime(timezone=True), nullable=False),
            Column("finished_at", DateTime(timezone=True), nullable=False),
            Column("ok", Boolean, nullable=False),
            Column("rows", Integer, nullable=False),
            Column("requested_days", Integer, nullable=True),
            Column("message", Text, nullable=True),
        ),
    }
    if version >= 2:
        tables["missing_coins"] = Table(
            "missing_coins",
            md,
            Column("coin_id", String(128), primary_key=True),
            Column("seen_at", DateTime(timezone=True), nullable=False),
            Column("message", Text, nullable=True),
        )
    return md, tables


def make_market_cache_database(engine: Engine, version: int) -> None:
    """What the former market runner left at ``version`` (1 or 2), with a few rows."""
    md, t = _legacy_market(version)
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(t["schema_versions"]).values(
                component="market", version=version, applied_at=WHEN
            )
        )
        conn.execute(
            insert(t["coins"]),
            [
                {"id": "bitcoin", "symbol": "btc", "name": "Bitcoin", "volume_rank": 1,
                 "market_cap_rank": 1, "current_price": 91234.5, "total_volume": 3.1e10,
                 "updated_at": WHEN},
                {"id": "tether", "symbol": "usdt", "name": "Tether", "volume_rank": None,
                 "market_cap_rank": None, "current_price": None, "total_volume": None,
                 "updated_at": WHEN},
            ],
        )  # fmt: skip
        conn.execute(
            insert(t["daily"]),
            [
                {"coin_id": "bitcoin", "date": date(2024, 1, d), "price": 40000.0 + d,
                 "volume": 1e9 * d, "market_cap": None if d == 3 else 7.8e11,
                 "source": "coingecko" if d % 2 else "csv", "stored_at": WHEN}
                for d in range(1, 6)
            ],
        )  # fmt: skip
        conn.execute(
            insert(t["fetch_log"]),
            [
                {"coin_id": "bitcoin", "kind": "history", "started_at": WHEN,
                 "finished_at": WHEN, "ok": True, "rows": 5, "requested_days": 5,
                 "message": None},
                {"coin_id": None, "kind": "markets", "started_at": WHEN, "finished_at": WHEN,
                 "ok": False, "rows": 0, "requested_days": None, "message": "HTTP 429"},
            ],
        )  # fmt: skip
        if "missing_coins" in t:
            conn.execute(
                insert(t["missing_coins"]).values(
                    coin_id="gone-coin", seen_at=WHEN, message="coin not found"
                )
            )


def make_store_database_at_0002(engine: Engine) -> None:
    """A store database migrated to revision 0002 (what coincast had before 0003), with rows."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations.SCRIPTS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    md = MetaData()
    md.reflect(engine, only=STORE_TABLES)
    t = md.tables
    with engine.begin() as conn:
        conn.execute(
            insert(t["store_models"]).values(
                user="alice", name="btc", public=True, last_version=2, created_at=WHEN,
                updated_at=WHEN,
            )
        )  # fmt: skip
        conn.execute(
            insert(t["store_model_versions"]),
            [
                {"user": "alice", "name": "btc", "version": v, "created_at": WHEN,
                 "parent_version": v - 1 or None, "metrics_json": f'{{"rmse": {v}.5}}',
                 "etag": f"e{v}", "json_sha256": f"j{v}", "weights_sha256": f"w{v}",
                 "json_size": 100 + v, "weights_size": 4000 + v,
                 "json_key": f"alice/btc/{v}/model.json", "weights_key": f"alice/btc/{v}/w.bin"}
                for v in (1, 2)
            ],
        )  # fmt: skip
        conn.execute(
            insert(t["server_users"]).values(name="alice", token_sha256="ab" * 32, created_at=WHEN)
        )
        conn.execute(
            insert(t["training_jobs"]).values(
                id="job-1", user="alice", owner="host:123", spec_json='{"coin": "bitcoin"}',
                status="done", epochs=3, history_json="[]", created_at=WHEN, updated_at=WHEN,
                finished_at=WHEN, error=None, result_json='{"version": 2}',
                cancel_requested=False,
            )
        )  # fmt: skip


def snapshot(engine: Engine, names: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the named tables that exist, read by reflection, in primary-key order."""
    md = MetaData()
    md.reflect(engine, only=lambda name, _md: name in names)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, table in sorted(md.tables.items()):
            query = select(table).order_by(*table.primary_key.columns)
            out[name] = [tuple(row) for row in conn.execute(query)]
    return out
