"""Schema migrations (Alembic) for the model store and users: one schema, SQLite or PostgreSQL.

Run programmatically, never by hand: ``upgrade(engine)`` brings a database to the newest
revision the first time a process opens it (``coincast.store.selection`` calls it), so
a fresh server, CLI or test needs no setup step. Several server processes may start at
once on one PostgreSQL: the upgrade runs under a transaction-scoped advisory lock, and
PostgreSQL's transactional DDL makes a half-applied revision impossible. On SQLite a
file lock beside the database plays the lock's part (both in ``coincast.db.locks``).

The market-data cache (``coincast.data.market.cache``) keeps its own small version table and is
not managed here; it runs on the same database URL.

To change a table of the store: edit its ``Table`` in the owning module, then add a file
in ``versions/`` (copy the newest, bump ``revision``/``down_revision``).
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
# The tables this package's revisions create and alter (the rest belong to other owners).
MANAGED_TABLES = frozenset(
    {"store_models", "store_model_versions", "server_users", "training_jobs"}
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
