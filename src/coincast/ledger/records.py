"""Writing and reading the ledger: immutable forecasts, their scores, tracked models, run locks.

Inserts are ``INSERT … ON CONFLICT DO NOTHING`` on each table's key: an identical request
(same user, coin, model, version and origin) stores nothing new, a forecast is never
overwritten, and a score once written stays. The daily job's lock is a row keyed by the
UTC day: of several servers inserting it, exactly one succeeds, on SQLite as on
PostgreSQL, and a crash cannot leave it held for the next day.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, Table, and_, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from coincast.db.engine import make_engine
from coincast.db.migrate import upgrade
from coincast.errors import ParameterError, StoreUnavailableError
from coincast.ledger.schema import daily_runs_table, ledger_table, scores_table, tracked_table
from coincast.settings import Settings

__all__ = ["Ledger", "LedgerRow", "Tracked", "Source", "PRESET_PREFIX", "model_key"]

Source = Literal["cli", "api", "daily"]
PRESET_PREFIX = "preset:"


def model_key(name: str | None, *, preset: str | None = None, owner: str | None = None,
              user: str | None = None) -> str:  # fmt: skip
    """The ledger's name for a model: a saved name (``owner/name`` if not the user's own)
    or ``preset:NAME`` for a network trained for this forecast alone."""
    if name is None:
        return PRESET_PREFIX + (preset or "shrunk")
    return name if owner is None or owner == user else f"{owner}/{name}"


@dataclass(frozen=True)
class LedgerRow:
    """One forecast day and, once known, what happened."""

    id: int
    user: str
    coin_id: str
    model: str
    version: str
    origin_date: date
    horizon: int
    target_date: date
    point: float
    lower: float | None
    upper: float | None
    naive: float
    source: str
    created_at: datetime
    actual: float | None = None
    error: float | None = None
    naive_error: float | None = None
    inside: bool | None = None

    @property
    def scored(self) -> bool:
        return self.actual is not None


@dataclass(frozen=True)
class Tracked:
    user: str
    coin_id: str
    model: str
    days: int


def _now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """The ledger in ``settings``' database (or ``engine``'s: tests run two side by side)."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings)
        upgrade(self.engine)

    def _insert_ignore(self, table: Table) -> Any:
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        if dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        raise StoreUnavailableError(
            f"Database dialect {dialect!r} is not supported for the ledger; use SQLite "
            "(the default) or PostgreSQL in COINCAST_DATABASE_URL."
        )

    def _write(self, what: str, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(self._insert_ignore(table), list(rows))
        except SQLAlchemyError as exc:
            raise StoreUnavailableError(
                f"Could not {what} ({type(exc).__name__}). Check that the database in "
                "COINCAST_DATABASE_URL (or COINCAST_DATA_DIR) is reachable and writable."
            ) from exc

    # --- forecasts -----------------------------------------------------------------------

    def record(
        self,
        user: str,
        coin_id: str,
        model: str,
        version: str,
        frame: pd.DataFrame,
        source: Source,
    ) -> int:
        """Keep a forecast frame (date, forecast, lower, upper, naive); returns its rows.

        The origin is the day before the first forecast day. Rows already in the ledger
        under the same key are left as they were.
        """
        if frame.empty:
            return 0
        dates = [pd.Timestamp(d).date() for d in frame["date"]]
        origin = dates[0] - timedelta(days=1)
        now = _now()
        rows = [
            {
                "user": user,
                "coin_id": coin_id,
                "model": model,
                "version": version,
                "origin_date": origin,
                "horizon": (day - origin).days,
                "target_date": day,
                "point": float(rec["forecast"]),
                "lower": _opt(rec.get("lower")),
                "upper": _opt(rec.get("upper")),
                "naive": float(rec["naive"]),
                "source": source,
                "created_at": now,
            }
            for day, rec in zip(dates, frame.to_dict(orient="records"), strict=True)
        ]
        self._write("record the forecast in the ledger", ledger_table, rows)
        return len(rows)

    def rows(
        self, user: str, coin_id: str | None = None, model: str | None = None
    ) -> list[LedgerRow]:
        """The user's forecasts (with scores where known), oldest target first."""
        query = (
            select(ledger_table, *[scores_table.c[n] for n in _SCORE_COLUMNS])
            .select_from(ledger_table.outerjoin(scores_table))
            .where(ledger_table.c.user == user)
            .order_by(ledger_table.c.target_date, ledger_table.c.origin_date, ledger_table.c.id)
        )
        if coin_id is not None:
            query = query.where(ledger_table.c.coin_id == coin_id)
        if model is not None:
            query = query.where(ledger_table.c.model == model)
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().all()
        return [LedgerRow(**dict(r)) for r in found]

    def unscored(self, coin_id: str | None = None) -> list[LedgerRow]:
        """Every user's forecasts with no score yet (targets may or may not be known)."""
        query = (
            select(ledger_table)
            .select_from(ledger_table.outerjoin(scores_table))
            .where(scores_table.c.forecast_id.is_(None))
        )
        if coin_id is not None:
            query = query.where(ledger_table.c.coin_id == coin_id)
        with self.engine.connect() as conn:
            return [LedgerRow(**dict(r)) for r in conn.execute(query).mappings().all()]

    def add_scores(self, scores: Sequence[dict[str, Any]]) -> None:
        now = _now()
        self._write(
            "store forecast scores in the ledger",
            scores_table,
            [{**s, "scored_at": now} for s in scores],
        )

    # --- tracked models ------------------------------------------------------------------

    def track(self, user: str, coin_id: str, model: str, days: int = 7) -> bool:
        """Add a model to the daily job; False if it was tracked already."""
        if not 1 <= days <= 90:
            raise ParameterError(f"days must be between 1 and 90, not {days}.")
        before = self.tracked(user)
        row = {"user": user, "coin_id": coin_id, "model": model, "days": days, "added_at": _now()}
        self._write("track the model", tracked_table, [row])
        return all((t.coin_id, t.model) != (coin_id, model) for t in before)

    def tracked(self, user: str | None = None) -> list[Tracked]:
        query = select(tracked_table).order_by(
            tracked_table.c.user, tracked_table.c.coin_id, tracked_table.c.model
        )
        if user is not None:
            query = query.where(tracked_table.c.user == user)
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().all()
        return [Tracked(r["user"], r["coin_id"], r["model"], r["days"]) for r in found]

    # --- the daily job's lock ------------------------------------------------------------

    def claim_day(self, day: date) -> bool:
        """True for the one caller that gets to run ``day``'s job; False for every other."""
        runner = f"{socket.gethostname()}:{os.getpid()}"
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(daily_runs_table),
                    {"day": day, "started_at": _now(), "runner": runner},
                )
        except IntegrityError:
            return False
        return True

    def finish_day(self, day: date, ok: bool, message: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(daily_runs_table)
                .where(and_(daily_runs_table.c.day == day))
                .values(finished_at=_now(), ok=ok, message=message[:4000])
            )

    def runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            query = select(daily_runs_table).order_by(daily_runs_table.c.day)
            return [dict(r) for r in conn.execute(query).mappings().all()]


_SCORE_COLUMNS = ("actual", "error", "naive_error", "inside")


def _opt(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return f if f == f and abs(f) != float("inf") else None
