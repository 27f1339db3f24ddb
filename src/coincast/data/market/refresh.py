"""Incremental refresh: ask CoinGecko only for the finished days the store lacks.

CoinGecko's daily series stamps each day at 00:00 UTC, and today's 00:00 snapshot is the
newest finished day. So a coin whose last stored day is today needs no call at all, and
one whose last day is ``L`` needs ``days = today - L`` (the API's ``days=D`` returns the
last ``D`` finished days). Re-running a refresh right away therefore costs one
``/coins/markets`` call and nothing per coin.

A top list can name coins CoinGecko has no history for (it answers 404 "coin not found").
Such ids are remembered in the cache with the time, and top-list refreshes skip them for
``COINCAST_MISSING_COIN_RETRY_DAYS`` (status ``skipped_missing``) instead of spending a
request on each one every time; an explicit ``refresh_coin`` always asks.

Each coin is written in its own transaction: a failure (after the client's retries) is
logged and reported in that coin's :class:`RefreshResult`, and never touches the rows of
coins already refreshed, nor the coin's own previous rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol, get_args

import pandas as pd

from coincast.data.coingecko.client import MarketCoin
from coincast.data.coingecko.stablecoins import is_stablecoin
from coincast.data.market.cache import MarketCache
from coincast.errors import CoincastError, NoDataError, UnknownCoinError

__all__ = [
    "RefreshResult",
    "refresh_coin",
    "refresh_top",
    "summary_line",
    "HistoryClient",
    "utc_today",
]

Status = Literal["updated", "up_to_date", "failed", "skipped_stable", "skipped_missing"]


class HistoryClient(Protocol):
    """The part of ``CoinGeckoClient`` a refresh uses."""

    notices: list[str]

    def top_coins(self, n: int = 100) -> list[MarketCoin]: ...
    def daily_history(self, coin_id: str, days: int | None = None) -> pd.DataFrame: ...


@dataclass(frozen=True)
class RefreshResult:
    coin_id: str
    status: Status
    # Days asked of the API: None when no call was made (or "all the plan allows").
    requested_days: int | None = None
    called_api: bool = False
    new_rows: int = 0
    fetched_rows: int = 0
    last_date: date | None = None
    error: str | None = None
    error_type: str | None = None
    note: str | None = None  # why a coin was skipped

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def utc_today() -> date:
    return datetime.now(UTC).date()


def refresh_coin(
    client: HistoryClient,
    cache: MarketCache,
    coin_id: str,
    *,
    days: int | None = None,
    today: date | None = None,
    maybe_missing: bool = True,
) -> RefreshResult:
    """Bring ``coin_id`` up to today's finished day; raise ``CoincastError`` on failure.

    ``days`` forces a window (``coincast data fetch --days N``); otherwise only the missing
    days are requested, or everything the plan allows for a coin not yet stored. A 404
    records the id as unknown to CoinGecko, and a success clears that record;
    ``maybe_missing=False`` (from a caller that knows there is none) saves the clearing.
    """
    today = today or utc_today()
    last = cache.last_date(coin_id)
    if days is None and last is not None:
        if last >= today:
            return RefreshResult(coin_id, "up_to_date", last_date=last)
        days = (today - last).days
    started = datetime.now(UTC)
    try:
        frame = client.daily_history(coin_id, days)
        new_rows = cache.upsert_history(coin_id, frame, source="coingecko") if len(frame) else 0
    except CoincastError as exc:
        cache.log_fetch(
            coin_id, "history", ok=False, requested_days=days, message=str(exc), started_at=started
        )
        if isinstance(exc, UnknownCoinError):
            cache.mark_missing(coin_id, str(exc))
        raise
    cache.log_fetch(
        coin_id, "history", ok=True, rows=len(frame), requested_days=days, started_at=started
    )
    if maybe_missing:
        cache.forget_missing(coin_id)
    return RefreshResult(
        coin_id,
        "updated",
        requested_days=days,
        called_api=True,
        new_rows=new_rows,
        fetched_rows=len(frame),
        last_date=cache.last_date(coin_id),
    )


def _stored_prices(cache: MarketCache, coin_id: str, today: date) -> pd.Series | None:
    """Recent stored prices, the best peg evidence; None if nothing recent is stored."""
    try:
        return cache.history(coin_id, start=today - timedelta(days=90))["price"]
    except NoDataError:
        return None


def refresh_top(
    client: HistoryClient,
    cache: MarketCache,
    n: int = 100,
    exclude_stable: bool = False,
    on_coin: Callable[[RefreshResult, int, int], None] | None = None,
    *,
    on_start: Callable[[str, int, int], None] | None = None,
    today: date | None = None,
) -> list[RefreshResult]:
    """Store the top-``n`` list, then refresh each coin; one coin's failure stops nothing.

    ``on_start(coin_id, i, total)`` and ``on_coin(result, i, total)`` (``i`` from 1) let a
    caller draw progress. Stablecoins are recognised from stored prices first, then from
    the market row (``coincast.data.coingecko.stablecoins.is_stablecoin``).
    """
    today = today or utc_today()
    started = datetime.now(UTC)
    retry_days = cache.settings.missing_coin_retry_days
    missing = cache.missing_coins()  # id -> when CoinGecko last said "coin not found"
    try:
        coins = client.top_coins(n)
    except CoincastError as exc:
        cache.log_fetch(None, "markets", ok=False, message=str(exc), started_at=started)
        raise
    cache.upsert_coins(coins)
    cache.log_fetch(None, "markets", ok=True, rows=len(coins), started_at=started)
    results: list[RefreshResult] = []
    total = len(coins)
    for i, coin in enumerate(coins, start=1):
        if on_start is not None:
            on_start(coin.id, i, total)
        try:
            if exclude_stable and is_stablecoin(
                coin.id, prices=_stored_prices(cache, coin.id, today), market=coin
            ):
                result = RefreshResult(
                    coin.id, "skipped_stable", last_date=cache.last_date(coin.id)
                )
            elif coin.id in missing and started < missing[coin.id] + timedelta(days=retry_days):
                result = RefreshResult(
                    coin.id,
                    "skipped_missing",
                    last_date=cache.last_date(coin.id),
                    note=f"CoinGecko had no coin '{coin.id}' on {missing[coin.id]:%Y-%m-%d}; "
                    f"asked again {retry_days:g} day(s) after that "
                    "(COINCAST_MISSING_COIN_RETRY_DAYS), or now with `coincast data fetch`.",
                )
            else:
                in_record = coin.id in missing
                result = refresh_coin(client, cache, coin.id, today=today, maybe_missing=in_record)
        except CoincastError as exc:
            result = RefreshResult(
                coin.id,
                "failed",
                called_api=True,
                last_date=cache.last_date(coin.id),
                error=str(exc),
                error_type=type(exc).__name__,
            )
        results.append(result)
        if on_coin is not None:
            on_coin(result, i, total)
    return results


def summary_line(results: list[RefreshResult]) -> str:
    """One sentence counting each outcome of a top-list refresh, skips included."""
    counts = dict.fromkeys(get_args(Status), 0)
    for r in results:
        counts[r.status] += 1
    new_days = sum(r.new_rows for r in results)
    return (
        f"{len(results)} coins: {counts['updated']} updated ({new_days} new days), "
        f"{counts['up_to_date']} already up to date, {counts['skipped_stable']} stablecoins "
        f"skipped, {counts['skipped_missing']} unknown to CoinGecko skipped (no request), "
        f"{counts['failed']} failed."
    )
