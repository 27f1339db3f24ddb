"""The market-data store: coin list, daily rows and a fetch log in the shared database.

Why SQLAlchemy Core and this schema: the rows are plain facts (one price per coin per day),
the queries are explicit, and the same tables run on the embedded SQLite file and on
PostgreSQL (``COINCAST_DATABASE_URL``). Upserts use the dialect's own ``ON CONFLICT DO
UPDATE`` (SQLite and PostgreSQL spell it the same way in SQLAlchemy), so a re-fetched day
replaces the stored one instead of failing or duplicating.

The tables are declared in ``coincast.data.market.schema``; opening a cache runs the one
migration runner (``coincast.db.migrate.upgrade``) that makes every table of the database,
so the market data has no schema history of its own.

Why one transaction per write: a refresh that dies half-way (crash, fault, Ctrl-C) must
leave each coin either fully updated or exactly as it was; readers never see half a
history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from coincast.data.frame import HISTORY_COLUMNS, validate_history
from coincast.data.market.rows import (
    CoinRow,
    FetchLogRow,
    HistorySummary,
    MarketCoinLike,
    as_date,
    as_utc,
    chunks,
    opt_float,
    utc_now,
)
from coincast.data.market.schema import (
    coins_table,
    daily_table,
    fetch_log_table,
    missing_coins_table,
)
from coincast.db.engine import make_engine
from coincast.db.migrate import upgrade
from coincast.errors import DataError, NoDataError, StoreUnavailableError
from coincast.settings import Settings

__all__ = [
    "MarketCache",
    "CoinRow",
    "HistorySummary",
    "FetchLogRow",
    "MarketCoinLike",
    "Source",
    "coins_table",
    "daily_table",
    "fetch_log_table",
    "missing_coins_table",
]

Source = Literal["coingecko", "csv"]
# Rows per INSERT statement: bounded statements for PostgreSQL's parameter limit, and
# several statements per large history (so a fault can land mid-write and still roll back).
_CHUNK = 1000


class MarketCache:
    """Coin list, daily history and fetch log of every coin, in ``settings``' database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine = make_engine(settings)
        try:
            upgrade(self.engine)
        except SQLAlchemyError as exc:
            raise self._unavailable("open", exc) from exc

    # --- coins ---------------------------------------------------------------------------

    def upsert_coins(self, coins: Sequence[MarketCoinLike]) -> None:
        """Store a top list as the current snapshot: coins not in it lose their rank."""
        now = utc_now()
        rows = [
            {
                "id": c.id,
                "symbol": c.symbol,
                "name": c.name,
                "volume_rank": c.volume_rank,
                "market_cap_rank": c.market_cap_rank,
                "current_price": opt_float(c.current_price),
                "total_volume": opt_float(c.total_volume),
                "market_cap": opt_float(c.market_cap),
                "high_24h": opt_float(c.high_24h),
                "low_24h": opt_float(c.low_24h),
                "price_change_percentage_24h": opt_float(c.price_change_percentage_24h),
                "updated_at": now,
            }
            for c in coins
        ]
        try:
            with self.engine.begin() as conn:
                conn.execute(update(coins_table).values(volume_rank=None))
                for chunk in chunks(rows, _CHUNK):
                    conn.execute(self._upsert(coins_table, ["id"]), chunk)
        except SQLAlchemyError as exc:
            raise self._unavailable("store the coin list in", exc) from exc

    def coins(self, limit: int | None = None) -> list[CoinRow]:
        """Coins of the latest top list by volume rank, then any others by id."""
        query = select(coins_table).order_by(
            coins_table.c.volume_rank.is_(None), coins_table.c.volume_rank, coins_table.c.id
        )
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            result = conn.execute(query).mappings().all()
        return [CoinRow(**{**row, "updated_at": as_utc(row["updated_at"])}) for row in result]

    # --- daily history -------------------------------------------------------------------

    def upsert_history(
        self, coin_id: str, frame: pd.DataFrame, source: Source = "coingecko"
    ) -> int:
        """Insert or replace ``frame``'s days for ``coin_id`` in one transaction.

        Returns the number of days that were not stored before. Either every row lands or
        none does: a failure rolls back and leaves the previous history untouched.
        """
        if source not in ("coingecko", "csv"):
            raise DataError(f"Unknown data source {source!r}; use 'coingecko' or 'csv'.")
        history = validate_history(frame, what=f"history of {coin_id}")
        bad = history.index[~(history["price"] > 0)]
        if len(bad):
            raise DataError(
                f"{coin_id}: price is missing or not positive on {bad[0].date()} "
                f"({len(bad)} day(s)); nothing was stored. Fix the source data and retry."
            )
        now = utc_now()
        rows = [
            {
                "coin_id": coin_id,
                "date": day,
                "price": float(price),
                "volume": opt_float(volume),
                "market_cap": opt_float(cap),
                "source": source,
                "stored_at": now,
            }
            for day, price, volume, cap in zip(
                pd.DatetimeIndex(history.index).date,
                history["price"].tolist(),
                history["volume"].tolist(),
                history["market_cap"].tolist(),
                strict=True,
            )
        ]
        if not rows:
            return 0
        try:
            with self.engine.begin() as conn:
                before = conn.execute(
                    select(func.count())
                    .select_from(daily_table)
                    .where(daily_table.c.coin_id == coin_id)
                ).scalar_one()
                stmt = self._upsert(daily_table, ["coin_id", "date"])
                for chunk in chunks(rows, _CHUNK):
                    conn.execute(stmt, chunk)
                after = conn.execute(
                    select(func.count())
                    .select_from(daily_table)
                    .where(daily_table.c.coin_id == coin_id)
                ).scalar_one()
        except SQLAlchemyError as exc:
            raise self._unavailable(f"store {coin_id}'s history in", exc) from exc
        return int(after - before)

    def history(
        self, coin_id: str, start: date | None = None, end: date | None = None
    ) -> pd.DataFrame:
        """The stored days of ``coin_id`` (inclusive bounds) as a history frame."""
        query = (
            select(
                daily_table.c.date,
                daily_table.c.price,
                daily_table.c.volume,
                daily_table.c.market_cap,
            )
            .where(daily_table.c.coin_id == coin_id)
            .order_by(daily_table.c.date)
        )
        if start is not None:
            query = query.where(daily_table.c.date >= as_date(start))
        if end is not None:
            query = query.where(daily_table.c.date <= as_date(end))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            span = ""
            if start is not None or end is not None:
                span = f" between {start or 'the start'} and {end or 'the end'}"
            raise NoDataError(
                f"No market data stored for '{coin_id}'{span}. Run `coincast data fetch "
                f"{coin_id}` or `coincast data import FILE --coin {coin_id}` first."
            )
        frame = pd.DataFrame(
            [tuple(r[1:]) for r in rows],
            columns=list(HISTORY_COLUMNS),
            index=pd.DatetimeIndex([pd.Timestamp(r[0]) for r in rows], name="date"),
            dtype="float64",
        )
        return validate_history(frame, what=f"stored history of {coin_id}")

    def last_date(self, coin_id: str) -> date | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(func.max(daily_table.c.date)).where(daily_table.c.coin_id == coin_id)
            ).scalar_one()
        return as_date(value) if value is not None else None

    def last_prices(self) -> dict[str, tuple[date, float]]:
        """Each stored coin's last day and its price (the coin list shows them offline)."""
        last = (
            select(daily_table.c.coin_id, func.max(daily_table.c.date).label("day"))
            .group_by(daily_table.c.coin_id)
            .subquery()
        )
        query = select(daily_table.c.coin_id, daily_table.c.date, daily_table.c.price).join(
            last, (daily_table.c.coin_id == last.c.coin_id) & (daily_table.c.date == last.c.day)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {coin: (as_date(day), float(price)) for coin, day, price in rows}

    def summaries(self) -> list[HistorySummary]:
        """One line per coin with stored days (what ``coincast data show`` lists)."""
        query = (
            select(
                daily_table.c.coin_id,
                func.count(),
                func.min(daily_table.c.date),
                func.max(daily_table.c.date),
            )
            .group_by(daily_table.c.coin_id)
            .order_by(daily_table.c.coin_id)
        )
        sources_q = select(daily_table.c.coin_id, daily_table.c.source).distinct()
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            sources: dict[str, set[str]] = {}
            for coin_id, source in conn.execute(sources_q).all():
                sources.setdefault(coin_id, set()).add(source)
        return [
            HistorySummary(
                coin_id=r[0],
                rows=int(r[1]),
                first=as_date(r[2]),
                last=as_date(r[3]),
                sources=tuple(sorted(sources.get(r[0], ()))),
            )
            for r in rows
        ]

    # --- fetch log -----------------------------------------------------------------------

    def log_fetch(
        self,
        coin_id: str | None,
        kind: str,
        *,
        ok: bool,
        rows: int = 0,
        requested_days: int | None = None,
        message: str | None = None,
        started_at: datetime | None = None,
    ) -> None:
        """Record one fetch attempt, so ``show`` can say when data was last refreshed."""
        finished = utc_now()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    fetch_log_table.insert().values(
                        coin_id=coin_id,
                        kind=kind,
                        started_at=started_at or finished,
                        finished_at=finished,
                        ok=ok,
                        rows=rows,
                        requested_days=requested_days,
                        message=message,
                    )
                )
        except SQLAlchemyError as exc:
            raise self._unavailable("write the fetch log in", exc) from exc

    def fetch_log(self, coin_id: str | None = None, limit: int = 20) -> list[FetchLogRow]:
        """The newest entries first."""
        query = select(fetch_log_table).order_by(fetch_log_table.c.id.desc()).limit(limit)
        if coin_id is not None:
            query = query.where(fetch_log_table.c.coin_id == coin_id)
        with self.engine.connect() as conn:
            result = conn.execute(query).mappings().all()
        return [
            FetchLogRow(
                coin_id=r["coin_id"],
                kind=r["kind"],
                started_at=as_utc(r["started_at"]),
                finished_at=as_utc(r["finished_at"]),
                ok=bool(r["ok"]),
                rows=int(r["rows"]),
                requested_days=r["requested_days"],
                message=r["message"],
            )
            for r in result
        ]

    # --- coins CoinGecko does not know ---------------------------------------------------

    def mark_missing(self, coin_id: str, message: str | None = None) -> None:
        """Remember (with the time) that CoinGecko answered "coin not found" for ``coin_id``."""
        row = {"coin_id": coin_id, "seen_at": utc_now(), "message": message}
        try:
            with self.engine.begin() as conn:
                conn.execute(self._upsert(missing_coins_table, ["coin_id"]), [row])
        except SQLAlchemyError as exc:
            raise self._unavailable(f"record {coin_id} as unknown in", exc) from exc

    def forget_missing(self, coin_id: str) -> None:
        """CoinGecko served ``coin_id`` after all: ask for it on every refresh again."""
        table = missing_coins_table
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(table).where(table.c.coin_id == coin_id))
        except SQLAlchemyError as exc:
            raise self._unavailable(f"update {coin_id}'s entry in", exc) from exc

    def missing_coins(self) -> dict[str, datetime]:
        """Ids CoinGecko last answered "coin not found" for, with when it did."""
        table = missing_coins_table
        query = select(table.c.coin_id, table.c.seen_at)
        with self.engine.connect() as conn:
            return {coin: as_utc(seen) for coin, seen in conn.execute(query).all()}

    # --- helpers -------------------------------------------------------------------------

    def _upsert(self, table: Table, keys: list[str]) -> Any:
        """``INSERT … ON CONFLICT (keys) DO UPDATE`` in the engine's dialect (executemany)."""
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            stmt: Any = sqlite.insert(table)
        elif dialect == "postgresql":
            stmt = postgresql.insert(table)
        else:
            raise StoreUnavailableError(
                f"Database dialect {dialect!r} is not supported for market data; use SQLite "
                "(the default) or PostgreSQL in COINCAST_DATABASE_URL."
            )
        updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        return stmt.on_conflict_do_update(index_elements=keys, set_=updates)

    def _unavailable(self, action: str, exc: SQLAlchemyError) -> StoreUnavailableError:
        orig = getattr(exc, "orig", None)
        detail = str(orig) if orig is not None else str(exc)
        return StoreUnavailableError(
            f"Could not {action} the market database ({self._where()}): {detail}. Nothing "
            "was changed. Check that the database is reachable and writable, then retry."
        )

    def _where(self) -> str:
        url = self.engine.url
        return str(url.database) if url.drivername.startswith("sqlite") else url.render_as_string()
