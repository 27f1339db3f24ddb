"""Alembic: one schema on SQLite and PostgreSQL, equal to the tables the code declares.

The compare test is the tripwire for schema drift: change a store/users ``Table``
without adding a revision and it fails, naming the difference.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, create_engine, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

import coincast.server.job_store  # noqa: F401  (declares the training-jobs table)
import coincast.server.users  # noqa: F401  (declares the users table)
import coincast.store.sql_metadata  # noqa: F401  (declares the store tables)
from coincast.db import migrate as migrations
from coincast.db.engine import metadata
from coincast.settings import Settings


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
    assert migrations.MANAGED_TABLES <= set(inspect(engine).get_table_names())
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
    assert info.value.status_code == 503
