"""Training-job records in the shared metadata database, so every server sees every job.

With several server processes behind one address (PostgreSQL + S3), the job a
client started may run on another process than the one answering its next request; and
a restarted server should still show yesterday's jobs. So each job is a row: the
process that runs it writes its status and every epoch's progress there, any process
reads it, and a cancel request is a flag the running process checks once per epoch.

``owner`` (host:pid) lets a restarted server mark its own dead jobs as interrupted; a
job of another host is reported as stalled when it shows no progress for a long time.
The table's migration lives in ``coincast.db.migrate`` (revision 0002).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Integer, String, Table, Text, delete, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import OperationalError

from coincast.db.engine import make_engine, metadata
from coincast.errors import StoreUnavailableError
from coincast.settings import Settings

__all__ = ["ACTIVE", "JobRecord", "JobStore", "jobs_table", "this_owner"]

ACTIVE = ("queued", "running")

jobs_table = Table(
    "training_jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user", String(64), nullable=False),
    Column("owner", String(255), nullable=False),  # host:pid of the process running it
    Column("spec_json", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("epochs", Integer, nullable=True),
    Column("history_json", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
    Column("result_json", Text, nullable=True),
    Column("cancel_requested", Boolean, nullable=False),
)


def this_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every timestamp here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass
class JobRecord:
    id: str
    user: str
    owner: str
    spec: dict[str, Any]
    status: str = "queued"
    epochs: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    error: str | None = None
    result: dict[str, Any] | None = None
    cancel_requested: bool = False


def _row(rec: JobRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "user": rec.user,
        "owner": rec.owner,
        "spec_json": json.dumps(rec.spec),
        "status": rec.status,
        "epochs": rec.epochs,
        "history_json": json.dumps(rec.history),
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "finished_at": rec.finished_at,
        "error": rec.error,
        "result_json": None if rec.result is None else json.dumps(rec.result),
        "cancel_requested": rec.cancel_requested,
    }


def _record(row: Any) -> JobRecord:
    return JobRecord(
        id=row.id,
        user=row.user,
        owner=row.owner,
        spec=json.loads(row.spec_json),
        status=row.status,
        epochs=row.epochs,
        history=json.loads(row.history_json),
        created_at=_utc(row.created_at) or datetime.now(UTC),
        updated_at=_utc(row.updated_at) or datetime.now(UTC),
        finished_at=_utc(row.finished_at),
        error=row.error,
        result=None if row.result_json is None else json.loads(row.result_json),
        cancel_requested=bool(row.cancel_requested),
    )


class JobStore:
    """Rows of ``training_jobs``; every database error is a StoreUnavailableError (503)."""

    def __init__(self, settings: Settings) -> None:
        from coincast.db.migrate import upgrade

        self.settings = settings
        self.engine = make_engine(settings)
        self._guard(lambda: upgrade(self.engine))

    def _guard(self, fn: Any) -> Any:
        try:
            return fn()
        except OperationalError as exc:
            where = "COINCAST_DATABASE_URL" if self.settings.database_url else "COINCAST_DATA_DIR"
            raise StoreUnavailableError(
                f"The job database is unavailable ({type(exc.orig).__name__}). Check "
                f"{where} and that the database is running, then retry."
            ) from exc

    def insert(self, rec: JobRecord) -> None:
        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(jobs_table.insert().values(**_row(rec)))

        self._guard(run)

    def save(self, rec: JobRecord) -> None:
        """Write the record's mutable fields (status, progress, outcome), not the flag."""
        rec.updated_at = datetime.now(UTC)
        values = _row(rec)
        for key in ("id", "user", "owner", "spec_json", "created_at", "cancel_requested"):
            values.pop(key)

        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(sql_update(jobs_table).where(jobs_table.c.id == rec.id).values(values))

        self._guard(run)

    def get(self, job_id: str) -> JobRecord | None:
        def run() -> JobRecord | None:
            with self.engine.connect() as conn:
                row = conn.execute(select(jobs_table).where(jobs_table.c.id == job_id)).first()
            return None if row is None else _record(row)

        result: JobRecord | None = self._guard(run)
        return result

    def for_user(self, user: str) -> list[JobRecord]:
        def run() -> list[JobRecord]:
            query = (
                select(jobs_table)
                .where(jobs_table.c.user == user)
                .order_by(jobs_table.c.created_at)
            )
            with self.engine.connect() as conn:
                return [_record(r) for r in conn.execute(query)]

        result: list[JobRecord] = self._guard(run)
        return result

    def request_cancel(self, job_id: str) -> None:
        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(
                    sql_update(jobs_table)
                    .where(jobs_table.c.id == job_id)
                    .values(cancel_requested=True)
                )

        self._guard(run)

    def cancel_requested(self, job_id: str) -> bool:
        def run() -> bool:
            query = select(jobs_table.c.cancel_requested).where(jobs_table.c.id == job_id)
            with self.engine.connect() as conn:
                return bool(conn.execute(query).scalar())

        result: bool = self._guard(run)
        return result

    def delete(self, job_ids: list[str]) -> None:
        if not job_ids:
            return

        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(delete(jobs_table).where(jobs_table.c.id.in_(job_ids)))

        self._guard(run)

    def interrupted_on_this_host(self) -> list[JobRecord]:
        """Active jobs of processes on this host that no longer run (a restarted server)."""
        host = socket.gethostname()

        def run() -> list[JobRecord]:
            query = select(jobs_table).where(jobs_table.c.status.in_(ACTIVE))
            with self.engine.connect() as conn:
                return [_record(r) for r in conn.execute(query)]

        out = []
        for rec in self._guard(run):
            rec_host, _, pid = rec.owner.rpartition(":")
            if rec_host == host and pid.isdigit() and not _alive(int(pid)):
                out.append(rec)
        return out


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True
