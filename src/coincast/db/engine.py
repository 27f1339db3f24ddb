"""The metadata database: one SQLAlchemy engine, one ``MetaData`` for every table.

SQLAlchemy Core (not the ORM): the tables are plain rows, the queries are explicit, and
the same schema runs on SQLite (embedded default) and PostgreSQL (``COINCAST_DATABASE_URL``)
without a rewrite. Each module that owns tables declares them on ``metadata``; the
tables themselves are made and changed only by ``coincast.db.migrate.upgrade`` (one
schema, one history of changes), which each owner calls before first use.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import ExceptionContext

from coincast.settings import Settings

__all__ = ["metadata", "make_engine"]

metadata = MetaData()
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL lets readers run while a refresh writes; foreign keys are off by default."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _failed_ping_is_a_disconnect(context: ExceptionContext) -> None:
    """A pre-ping that fails for any reason means "open a new connection".

    SQLAlchemy counts only errors it recognises as disconnects; when the server cuts the
    socket mid-ping, psycopg's restore of ``autocommit`` raises ``ProgrammingError``
    instead, which would surface as a 500 rather than reconnecting (and then a 503 if
    the database is really down).
    """
    if context.is_pre_ping:
        context.is_disconnect = True


def make_engine(settings: Settings) -> Engine:
    """One engine per database URL per process (engines hold the connection pool)."""
    url = settings.sqlalchemy_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                settings.data_dir.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"check_same_thread": False})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_pre_ping=True)
                event.listen(engine, "handle_error", _failed_ping_is_a_disconnect)
            _engines[url] = engine
        return engine
