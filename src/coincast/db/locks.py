"""Running a schema migration safely: once per process, one process at a time per database.

Used by the one migration runner (``coincast.db.migrate``), which needs these guarantees
when several servers or CLIs start at once on one database: on PostgreSQL a
transaction-scoped advisory lock (released by the commit, so a crash never leaves it
held), on SQLite a ``flock`` on a file beside the database (SQLite has no advisory locks,
and its write lock comes too late to stop two processes both seeing "not migrated yet").
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text

__all__ = ["OncePerDatabase", "migration_transaction"]


@contextmanager
def migration_transaction(engine: Engine, *, lock_name: str, pg_key: int) -> Iterator[Connection]:
    """A transaction that no other process migrating under the same lock runs beside.

    ``lock_name`` suffixes the SQLite lock file; ``pg_key`` is the advisory lock's key.
    Every process migrating one database must pass the same pair.
    """
    with _file_lock(engine, lock_name), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": pg_key})
        elif conn.dialect.name == "sqlite":
            # Python's sqlite3 opens a transaction only before DML, so DDL alone would
            # commit statement by statement; an explicit BEGIN makes a failed revision
            # roll back whole, as PostgreSQL's transactional DDL does.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


@contextmanager
def _file_lock(engine: Engine, lock_name: str) -> Iterator[None]:
    """Serialise one SQLite file's migrations across processes (no-op for servers)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    path = Path(database).with_name(Path(database).name + lock_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class OncePerDatabase:
    """Remembers which databases a step already ran on in this process (thread-safe).

    Opening a cache or a store is frequent (every request may); checking the schema each
    time would cost a transaction and a lock. The step still runs again in a new process.
    """

    def __init__(self) -> None:
        self._done: set[str] = set()
        self._lock = threading.Lock()

    def run(self, engine: Engine, step: Callable[[], object], *, force: bool = False) -> None:
        """Run ``step`` unless it already succeeded on ``engine``'s database (or ``force``)."""
        key = engine.url.render_as_string(hide_password=False)
        with self._lock:
            if key in self._done and not force:
                return
            step()
            self._done.add(key)
