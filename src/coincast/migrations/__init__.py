"""Schema migrations (Alembic) for the model store and users: one schema, SQLite or PostgreSQL.

Run programmatically, never by hand: ``upgrade(engine)`` brings a database to the newest
revision the first time a process opens it (``coincast.store.selection`` calls it), so
a fresh server, CLI or test needs no setup step. Several server processes may start at
once on one PostgreSQL: the upgrade runs under a transaction-scoped advisory lock, and
PostgreSQL's transactional DDL makes a half-applied revision impossible. On SQLite a
file lock beside the database plays the lock's part.

The market-data cache (``coincast.data.cache``) keeps its own small version table and is
not managed here; it runs on the same database URL.

To change a table of the store: edit its ``Table`` in the owning module, then add a file
in ``versions/`` (copy the newest, bump ``revision``/``down_revision``).
``tests/integration/test_migrations.py`` fails while the two disagree.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from coincast.errors import StoreUnavailableError

__all__ = ["upgrade", "current_revision", "head_revision", "MANAGED_TABLES"]

HERE = Path(__file__).resolve().parent
# The tables this package's revisions create and alter (the rest belong to other owners).
MANAGED_TABLES = frozenset({"store_models", "store_model_versions", "server_users"})
# Arbitrary but fixed: the key of the PostgreSQL advisory lock held while migrating.
_PG_LOCK_KEY = 0x636F696E  # "coin"
_done: set[str] = set()
_done_lock = threading.Lock()


def _config(connection: Connection | None = None) -> object:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
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
    from alembic import command

    key = engine.url.render_as_string(hide_password=False)
    with _done_lock:
        if key in _done and not force:
            return
        try:
            with _file_lock(engine), engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                command.upgrade(_config(conn), "head")  # type: ignore[arg-type]
        except OperationalError as exc:
            raise StoreUnavailableError(
                f"Could not prepare the metadata database ({type(exc).__name__}: "
                f"{str(exc.orig).strip() or exc}). Check that COINCAST_DATABASE_URL points to "
                "a running database you may write to, then restart."
            ) from exc
        _done.add(key)


@contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations of one SQLite file across processes (no-op for servers)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
