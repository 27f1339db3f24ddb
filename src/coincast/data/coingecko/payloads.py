"""CoinGecko response bodies: validated models, and the history frame built from charts.

Validation happens here, before anything reaches the cache: a body that does not match
(non-finite numbers, a missing ``prices`` list) is a transient failure to the client,
never a half-stored history.
"""

from __future__ import annotations

import math
import time
from typing import Annotated

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from coincast.data.frame import HISTORY_COLUMNS, validate_history

__all__ = ["MarketCoin", "MARKETS", "CHART", "Chart", "MarketRow", "DAY_MS", "to_frame"]

DAY_MS = 86_400_000

Value = Annotated[float, Field(allow_inf_nan=False)]
Point = tuple[Value, Value | None]


class _MarketFields(BaseModel):
    """The ``/coins/markets`` fields we keep; one list for the wire row and the coin."""

    id: str = Field(min_length=1)
    symbol: str
    name: str
    market_cap_rank: int | None = None
    current_price: Value | None = None
    total_volume: Value | None = None
    market_cap: Value | None = None
    high_24h: Value | None = None
    low_24h: Value | None = None
    price_change_percentage_24h: Value | None = None


class MarketCoin(_MarketFields):
    """One row of ``/coins/markets``; ``volume_rank`` is its 1-based place by volume."""

    model_config = ConfigDict(frozen=True)

    volume_rank: int = Field(ge=1)


class MarketRow(_MarketFields):
    """A row as CoinGecko sends it (dozens of other fields, ignored; no rank of ours yet)."""

    model_config = ConfigDict(extra="ignore")


class Chart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prices: list[Point]
    market_caps: list[Point] = Field(default_factory=list)
    total_volumes: list[Point] = Field(default_factory=list)


MARKETS = TypeAdapter(list[MarketRow])
CHART = TypeAdapter(Chart)


def today_ms() -> int:
    now = int(time.time() * 1000)
    return now - now % DAY_MS


def _series(charts: list[Chart], field: str) -> pd.Series:
    """One column keyed by UTC day: request-time points dropped, one value per day."""
    ts: list[int] = []
    values: list[float] = []
    for chart in charts:
        points: list[tuple[float, float | None]] = getattr(chart, field)
        if points and int(points[-1][0]) % DAY_MS:
            points = points[:-1]  # the request-time point: today is not finished
        for t, v in points:
            ts.append(int(t))
            values.append(math.nan if v is None else float(v))
    frame = pd.DataFrame({"ts": ts, "value": values}, dtype="float64")
    frame["day"] = frame["ts"] // DAY_MS * DAY_MS
    frame["off"] = frame["ts"] - frame["day"]
    # One value per day, the 00:00 snapshot first (chunk overlaps, stray intraday points).
    frame = frame.sort_values(["day", "off"], kind="stable").drop_duplicates("day")
    index = pd.DatetimeIndex(pd.to_datetime(frame["day"].astype("int64"), unit="ms"))
    return pd.Series(frame["value"].to_numpy(), index=index, dtype="float64")


def to_frame(charts: list[Chart], today: int) -> pd.DataFrame:
    """A history frame of the finished days (up to ``today``, ms) in ``charts``."""
    prices = _series(charts, "prices").dropna()
    prices = prices[prices.index <= pd.Timestamp(today, unit="ms")]
    frame = pd.DataFrame(
        {
            "price": prices,
            "volume": _series(charts, "total_volumes").reindex(prices.index),
            "market_cap": _series(charts, "market_caps").reindex(prices.index),
        },
        index=prices.index,
        columns=list(HISTORY_COLUMNS),
    )
    frame.index = pd.DatetimeIndex(frame.index, name="date").as_unit("ns")
    return validate_history(frame, "CoinGecko history")
