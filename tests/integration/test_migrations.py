"""Alembic: one schema on SQLite and PostgreSQL, equal to the tables the code declares.

The compare test is the tripwire for schema drift: change any ``Table`` (store, users,
jobs, market data) without adding a revision and it fails, naming the difference. The
upgrade tests start from databases earlier coincast versions left (the market cache's
former runner, the store at 0002) and check every row survives the way to head.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, create_engine, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

import coincast.data.market.schema  # noqa: F401  (declares the market tables)
import coincast.ledger.schema  # noqa: F401  (declares the ledger tables)
import coincast.server.job_store  # noqa: F401  (declares the training-jobs table)
import coincast.server.users  # noqa: F401  (declares the users table)
import coincast.store.sql_metadata  # noqa: F401  (declares the store tables)
from coincast.db import migrate as migrations
from coincast.db.engine import metadata
from coincast.errors import StoreUnavailableError
from coincast.server.error_status import status_for
from coincast.settings import Settings
from tests.migration_helpers import (
    MARKET_TABLES,
    STORE_TABLES,
    make_market_cache_database,
    make_store_database_at_0002,
    snapshot,
)


def _managed() -> MetaData:
    subset = MetaData()
    for name in migrations.MANAGED_TABLES:
        metadata.tables[name].to_metadata(subset)
    return subset


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, type_, _p: (
                    type_ != "table" or name in migrations.MANAGED_TABLES
                ),
            },
        )
        return list(compare_metadata(ctx, _managed()))


def _check_fresh(engine: Engine) -> None:
    migrations.upgrade(engine, force=True)
    assert migrations.current_revision(engine) == migrations.head_revision()
    tables = set(inspect(engine).get_table_names())
    assert migrations.MANAGED_TABLES <= tables
    assert "schema_versions" not in tables
    assert _diff(engine) == []


def _duplicate_version_rejected(engine: Engine) -> None:
    """The database itself refuses a second row for the same (user, name, version)."""
    from datetime import UTC, datetime

    from coincast.store.sql_metadata import model_versions_table, models_table

    now = datetime.now(UTC)
    row = {
        "user": "u",
        "name": "m",
        "version": 1,
        "created_at": now,
        "parent_version": None,
        "metrics_json": "{}",
        "etag": "e",
        "json_sha256": "j",
        "weights_sha256": "w",
        "json_size": 1,
        "weights_size": 1,
        "json_key": "k1",
        "weights_key": "k2",
    }
    with engine.begin() as conn:
        conn.execute(
            insert(models_table).values(
                user="u", name="m", public=False, last_version=1, created_at=now, updated_at=now
            )
        )
        conn.execute(insert(model_versions_table).values(**row))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(model_versions_table).values(**row))
    with engine.connect() as conn:
        assert len(conn.execute(select(model_versions_table)).all()) == 1


def test_sqlite_fresh_database_matches_declared_tables(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    _check_fresh(engine)
    _duplicate_version_rejected(engine)


def test_postgres_fresh_database_matches_declared_tables(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        _check_fresh(engine)
        _duplicate_version_rejected(engine)
    finally:
        engine.dispose()


def test_database_made_by_create_all_is_adopted(pg_url: str) -> None:
    """Stores created before migrations existed (``create_all``) upgrade in place."""
    engine = create_engine(pg_url)
    try:
        _managed().create_all(engine)
        assert migrations.current_revision(engine) is None
        _check_fresh(engine)
    finally:
        engine.dispose()


def test_concurrent_startups_migrate_once(pg_url: str) -> None:
    """Several server processes starting at once: the advisory lock serialises them."""
    engines = [create_engine(pg_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(engines))

    def start(engine: Engine) -> None:
        try:
            barrier.wait()
            migrations.upgrade(engine, force=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        with engines[0].connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [r[0] for r in rows] == [migrations.head_revision()]
    finally:
        for e in engines:
            e.dispose()


def test_registry_start_up_runs_the_migrations(settings: Settings) -> None:
    from coincast.db.engine import make_engine
    from coincast.store.registry import ModelRegistry

    ModelRegistry(settings)
    assert migrations.current_revision(make_engine(settings)) == migrations.head_revision()


def test_unreachable_database_is_a_503_with_the_setting_named(tmp_path: Path) -> None:
    from coincast.errors import StoreUnavailableError

    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreUnavailableError, match="COINCAST_DATABASE_URL") as info:
        migrations.upgrade(engine)
    assert status_for(type(info.value)) == 503


@pytest.fixture(params=["sqlite", "postgresql"])
def old_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database on each dialect, to be filled as an earlier coincast left it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = create_engine(url)
    yield engine
    engine.dispose()


def _upgraded_in_place(engine: Engine, before: dict[str, list[tuple[object, ...]]]) -> None:
    """Head reached, nothing of the old runner left, every earlier row unchanged."""
    assert all(before.values()), "the old database should hold rows in every table"
    _check_fresh(engine)
    after = snapshot(engine, MARKET_TABLES + STORE_TABLES)
    assert {name: after[name] for name in before} == before
    # The adopted tables keep working: a new log row gets the next id, not a clash.
    from coincast.data.market.schema import fetch_log_table

    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(fetch_log_table).values(
                coin_id="x", kind="history", started_at=now, finished_at=now, ok=True, rows=1
            )
        )
    with engine.connect() as conn:
        ids = conn.execute(select(fetch_log_table.c.id).order_by(fetch_log_table.c.id)).scalars()
        assert len(set(ids.all())) == len(before.get("fetch_log", [])) + 1


@pytest.mark.parametrize("version", [1, 2])
def test_market_cache_database_of_the_former_runner_upgrades_in_place(
    old_engine: Engine, version: int
) -> None:
    make_market_cache_database(old_engine, version)
    before = snapshot(old_engine, MARKET_TABLES)
    assert ("missing_coins" in before) == (version == 2)
    assert migrations.current_revision(old_engine) is None
    _upgraded_in_place(old_engine, before)
    assert snapshot(old_engine, ("missing_coins",))["missing_coins"] == before.get(
        "missing_coins", []
    )


@pytest.mark.parametrize("with_market", [False, True], ids=["store-only", "store+market"])
def test_store_database_at_0002_upgrades_in_place(old_engine: Engine, with_market: bool) -> None:
    make_store_database_at_0002(old_engine)
    if with_market:  # the usual case: cache and store on one URL, each with its own record
        make_market_cache_database(old_engine, 2)
    before = snapshot(old_engine, STORE_TABLES + MARKET_TABLES)
    assert set(before) == set(STORE_TABLES) | (set(MARKET_TABLES) if with_market else set())
    assert migrations.current_revision(old_engine) == "0002"
    _upgraded_in_place(old_engine, before)


def test_a_market_version_from_a_newer_coincast_is_refused(tmp_path: Path) -> None:
    """Adopting tables this coincast cannot describe would be a guess: stop, change nothing."""
    engine = create_engine(f"sqlite:///{tmp_path / 'newer.sqlite3'}")
    make_market_cache_database(engine, 2)
    with engine.begin() as conn:
        conn.execute(text("UPDATE schema_versions SET version = 3 WHERE component = 'market'"))
    before = set(inspect(engine).get_table_names())
    with pytest.raises(StoreUnavailableError, match="version 3 of a newer coincast"):
        migrations.upgrade(engine)
    assert set(inspect(engine).get_table_names()) == before
    assert migrations.current_revision(engine) is None


def test_schema_versions_rows_of_another_program_are_left_alone(tmp_path: Path) -> None:
    """Only the "market" record was coincast's: another component's row keeps the table."""
    engine = create_engine(f"sqlite:///{tmp_path / 'shared.sqlite3'}")
    make_market_cache_database(engine, 2)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO schema_versions (component, version, applied_at) "
                "VALUES ('other-app', 7, '2026-01-01 00:00:00')"
            )
        )
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()
    assert _diff(engine) == []
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT component, version FROM schema_versions")).all()
    assert [tuple(r) for r in rows] == [("other-app", 7)]
