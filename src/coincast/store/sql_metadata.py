"""Version rows of the model store in SQL (SQLAlchemy Core: SQLite or PostgreSQL).

The SQL is plain Core so the same statements run on the embedded SQLite default and on
PostgreSQL (which several servers share). The tables are made and changed only by the one
migration runner (``coincast.db.migrate``), which the constructor calls (once per process
per database).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKeyConstraint,
    Integer,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from coincast.db.engine import metadata
from coincast.db.migrate import upgrade
from coincast.errors import ModelNotFoundError, StoreUnavailableError
from coincast.store.records import ModelSummary, NewVersion, VersionInfo

__all__ = ["SqlMetadataStore", "model_versions_table", "models_table"]

models_table = Table(
    "store_models",
    metadata,
    Column("user", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("public", Boolean, nullable=False, default=False),
    # Highest number ever handed out: numbers are never reused, even after a delete, so a
    # client holding "v3" can never silently get a different model.
    Column("last_version", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

model_versions_table = Table(
    "store_model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("parent_version", Integer, nullable=True),
    Column("metrics_json", Text, nullable=False),
    Column("etag", String(64), nullable=False),
    Column("json_sha256", String(64), nullable=False),
    Column("weights_sha256", String(64), nullable=False),
    Column("json_size", Integer, nullable=False),
    Column("weights_size", Integer, nullable=False),
    Column("json_key", String(512), nullable=False),
    Column("weights_key", String(512), nullable=False),
    UniqueConstraint("user", "name", "version", name="uq_store_model_version"),
    ForeignKeyConstraint(["user", "name"], ["store_models.user", "store_models.name"]),
)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time we store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _row_to_info(row: Any) -> VersionInfo:
    values = {f.name: getattr(row, f.name) for f in fields(VersionInfo) if f.name != "metrics"}
    values["created_at"] = _aware(values["created_at"])
    return VersionInfo(metrics=json.loads(row.metrics_json), **values)


class SqlMetadataStore:
    """Version rows in the shared metadata database (SQLite by default, PostgreSQL later).

    The version number comes from ``UPDATE … SET last_version = last_version + 1 …
    RETURNING`` inside the insert's transaction: the database serialises concurrent saves,
    a failed insert rolls the counter back (numbers stay gap-free), and the unique
    constraint on (user, name, version) is the backstop.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        try:
            upgrade(engine)
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[Connection]:
        """A connection (a transaction when writing); driver failures become 503s."""
        try:
            with self.engine.begin() if write else self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    def add_version(self, new: NewVersion) -> VersionInfo:
        now = datetime.now(UTC)
        m, v = models_table, model_versions_table
        bump = (
            update(m)
            .where(m.c.user == new.user, m.c.name == new.name)
            .values(last_version=m.c.last_version + 1, updated_at=now)
            .returning(m.c.last_version)
        )
        with self._db(write=True) as conn:
            number = conn.execute(bump).scalar_one_or_none()
            if number is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(m).values(
                                user=new.user,
                                name=new.name,
                                public=False,
                                last_version=1,
                                created_at=now,
                                updated_at=now,
                            )
                        )
                    number = 1
                except IntegrityError:  # another writer created the model just now
                    number = conn.execute(bump).scalar_one()
            if new.parent_version is not None:
                self._require_parent(conn, new, number)
            row = {**asdict(new), "version": number, "created_at": now}
            row["metrics_json"] = json.dumps(row.pop("metrics"), sort_keys=True)
            conn.execute(insert(v).values(**row))
        return _row_to_info(SimpleNamespace(**row))

    def _require_parent(self, conn: Connection, new: NewVersion, number: int) -> None:
        v = model_versions_table
        found = conn.execute(
            select(v.c.version).where(
                v.c.user == new.user, v.c.name == new.name, v.c.version == new.parent_version
            )
        ).first()
        if found is None or new.parent_version is None or new.parent_version >= number:
            raise ModelNotFoundError(
                f"Parent version {new.parent_version} of model '{new.name}' does not exist. "
                f"List the versions with GET …/models/{new.name} and pass one of them."
            )

    def get_version(self, user: str, name: str, version: int | None) -> VersionInfo:
        row = self._version_row(select(model_versions_table), user, name, version)
        if row is None:
            raise _not_found(user, name, version)
        return _row_to_info(row)

    def get_etag(self, user: str, name: str, version: int | None) -> tuple[int, str] | None:
        """(version, etag) only: a cache's "is mine still current?" without parsing the
        row's metrics JSON (a fifth of get_version's cost on a cached forecast)."""
        v = model_versions_table
        row = self._version_row(select(v.c.version, v.c.etag), user, name, version)
        return None if row is None else (int(row.version), str(row.etag))

    def _version_row(self, query: Select[Any], user: str, name: str, version: int | None) -> Any:
        """The first row of ``query`` for one version (None: the newest), or None."""
        v = model_versions_table
        query = query.where(v.c.user == user, v.c.name == name)
        if version is None:
            query = query.order_by(v.c.version.desc()).limit(1)
        else:
            query = query.where(v.c.version == version)
        with self._db() as conn:
            return conn.execute(query).first()

    def list_versions(self, user: str, name: str) -> list[VersionInfo]:
        v = model_versions_table
        query = select(v).where(v.c.user == user, v.c.name == name).order_by(v.c.version)
        with self._db() as conn:
            rows = conn.execute(query).all()
        if not rows:
            raise _not_found(user, name, None)
        return [_row_to_info(r) for r in rows]

    def list_models(self, user: str) -> list[ModelSummary]:
        m, v = models_table, model_versions_table
        stats = (
            select(v.c.name, func.max(v.c.version).label("latest"), func.count().label("n"))
            .where(v.c.user == user)
            .group_by(v.c.name)
            .subquery()
        )
        query = (
            select(m, stats.c.latest, stats.c.n)
            .join(stats, stats.c.name == m.c.name)
            .where(m.c.user == user)
            .order_by(m.c.name)
        )
        with self._db() as conn:
            rows = conn.execute(query).all()
        return [
            ModelSummary(
                user=r.user,
                name=r.name,
                public=bool(r.public),
                latest_version=int(r.latest),
                n_versions=int(r.n),
                created_at=_aware(r.created_at),
                updated_at=_aware(r.updated_at),
            )
            for r in rows
        ]

    def delete_version(self, user: str, name: str, version: int) -> VersionInfo:
        v = model_versions_table
        where = and_(v.c.user == user, v.c.name == name, v.c.version == version)
        with self._db(write=True) as conn:
            row = conn.execute(select(v).where(where)).first()
            if row is None:
                raise _not_found(user, name, version)
            conn.execute(delete(v).where(where))
        return _row_to_info(row)

    def delete_model(self, user: str, name: str) -> list[VersionInfo]:
        """Remove the model and all its versions; its name (and numbering) starts afresh."""
        m, v = models_table, model_versions_table
        with self._db(write=True) as conn:
            rows = conn.execute(select(v).where(v.c.user == user, v.c.name == name)).all()
            conn.execute(delete(v).where(v.c.user == user, v.c.name == name))
            gone = conn.execute(delete(m).where(m.c.user == user, m.c.name == name))
        if gone.rowcount == 0:
            raise _not_found(user, name, None)
        return [_row_to_info(r) for r in rows]

    def set_public(self, user: str, name: str, public: bool) -> None:
        m = models_table
        with self._db(write=True) as conn:
            done = conn.execute(
                update(m)
                .where(m.c.user == user, m.c.name == name)
                .values(public=public, updated_at=datetime.now(UTC))
            )
        if done.rowcount == 0:
            raise _not_found(user, name, None)

    def is_public(self, user: str, name: str) -> bool:
        m = models_table
        query = select(m.c.public).where(m.c.user == user, m.c.name == name)
        with self._db() as conn:
            return bool(conn.execute(query).scalar_one_or_none())

    def referenced_keys(self) -> set[str]:
        v = model_versions_table
        with self._db() as conn:
            rows = conn.execute(select(v.c.json_key, v.c.weights_key)).all()
        return {k for r in rows for k in (r.json_key, r.weights_key)}


def _not_found(user: str, name: str, version: int | None) -> ModelNotFoundError:
    if version is None:
        return ModelNotFoundError(
            f"User '{user}' has no model named '{name}'. List the models to see the names."
        )
    return ModelNotFoundError(
        f"Model '{name}' of user '{user}' has no version {version}. "
        "List its versions, or ask for 'latest'."
    )


def _unavailable(exc: OperationalError) -> StoreUnavailableError:
    # The driver's own message only: SQLAlchemy's str() would show SQL and parameters.
    return StoreUnavailableError(
        f"The model metadata database is not usable ({exc.orig}). "
        "Check COINCAST_DATABASE_URL (or the data dir's permissions) and retry."
    )
