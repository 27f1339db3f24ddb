"""The records the market cache hands out, and the small conversions its SQL needs.

Kept apart from ``cache`` so the cache module holds only queries; these are plain frozen
dataclasses that CLI and server code can import without thinking about SQL.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

import pandas as pd

__all__ = [
    "CoinRow",
    "FetchLogRow",
    "HistorySummary",
    "MarketCoinLike",
    "as_date",
    "as_utc",
    "chunks",
    "opt_float",
    "utc_now",
]


class MarketCoinLike(Protocol):
    """What ``upsert_coins`` reads from a coin (``coincast.data.coingecko.client.MarketCoin``)."""

    @property
    def id(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def volume_rank(self) -> int: ...
    @property
    def market_cap_rank(self) -> int | None: ...
    @property
    def current_price(self) -> float | None: ...
    @property
    def total_volume(self) -> float | None: ...
    @property
    def market_cap(self) -> float | None: ...
    @property
    def high_24h(self) -> float | None: ...
    @property
    def low_24h(self) -> float | None: ...
    @property
    def price_change_percentage_24h(self) -> float | None: ...


@dataclass(frozen=True)
class CoinRow:
    id: str
    symbol: str
    name: str
    volume_rank: int | None
    market_cap_rank: int | None
    current_price: float | None
    total_volume: float | None
    market_cap: float | None
    high_24h: float | None
    low_24h: float | None
    price_change_percentage_24h: float | None
    updated_at: datetime


@dataclass(frozen=True)
class HistorySummary:
    coin_id: str
    rows: int
    first: date
    last: date
    sources: tuple[str, ...]


@dataclass(frozen=True)
class FetchLogRow:
    coin_id: str | None
    kind: str
    started_at: datetime
    finished_at: datetime
    ok: bool
    rows: int
    requested_days: int | None
    message: str | None


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything stored here is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def opt_float(value: Any) -> float | None:
    """NaN means "no value" in a frame and NULL in the table."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def chunks(rows: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()
