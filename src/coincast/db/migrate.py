"""The one migration runner (Alembic) for every table of the metadata database.

One schema, one history of changes: the model store, users, training jobs and the market
cache share one database URL (``Settings.sqlalchemy_url``), so they share one revision
chain in ``migrations/versions/``. Two runners on one database could each be right about
their own tables and still disagree about the database; one chain cannot, and a fresh
database gets every table from it.

Run programmatically, never by hand: ``upgrade(engine)`` brings a database to the newest
revision the first time a process opens it (the market cache, the store, the user and job
stores call it), so a fresh server, CLI or test needs no setup step. Several processes may
start at once on one database: the upgrade runs in one transaction, under an advisory
lock on PostgreSQL and a file lock beside the database on SQLite (``coincast.db.locks``),
so a revision that fails rolls back whole and the next start tries again.

Databases older than a table's revision are adopted in place: 0001/0002 adopt what
``create_all`` made, 0003 what the market cache's former runner made (then drops its
``schema_versions`` table).

To change a table: edit its ``Table`` in the owning module, then add a file in
``versions/`` (copy the newest, bump ``revision``/``down_revision``).
``tests/integration/test_migrations.py`` fails while the two disagree.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from coincast.db.locks import OncePerDatabase, migration_transaction
from coincast.errors import StoreUnavailableError

__all__ = ["upgrade", "current_revision", "head_revision", "MANAGED_TABLES"]

SCRIPTS = Path(__file__).resolve().parent / "migrations"
# Every table the revisions create and alter: all of coincast's tables.
MANAGED_TABLES = frozenset(
    {
        "store_models",
        "store_model_versions",
        "server_users",
        "training_jobs",
        "coins",
        "daily",
        "fetch_log",
        "missing_coins",
        "forecast_ledger",
        "ledger_scores",
        "ledger_tracked",
        "daily_runs",
    }
)
# Arbitrary but fixed: the key of the PostgreSQL advisory lock held while migrating.
_PG_LOCK_KEY = 0x636F696E  # "coin"
_ONCE = OncePerDatabase()


def _config(connection: Connection | None = None) -> object:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()  # type: ignore[arg-type]
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, *, force: bool = False) -> None:
    """Bring ``engine``'s database to the newest revision (once per process per URL)."""
    _ONCE.run(engine, lambda: _upgrade(engine), force=force)


def _upgrade(engine: Engine) -> None:
    from alembic import command

    try:
        with migration_transaction(engine, lock_name=".migrate-lock", pg_key=_PG_LOCK_KEY) as conn:
            command.upgrade(_config(conn), "head")  # type: ignore[arg-type]
    except OperationalError as exc:
        raise StoreUnavailableError(
            f"Could not prepare the metadata database ({type(exc).__name__}: "
            f"{str(exc.orig).strip() or exc}). Check that COINCAST_DATABASE_URL points to "
            "a running database you may write to, then restart."
        ) from exc
