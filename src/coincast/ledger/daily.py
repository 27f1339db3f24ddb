"""The daily job: refresh the tracked coins, forecast with each tracked model, score.

Meant for cron (``coincast daily``) or the server's scheduler (``COINCAST_DAILY_AT``),
soon after CoinGecko's day closes at 00:00 UTC. The day is claimed first
(``Ledger.claim_day``): however many servers share the database, one runs it and the
others return at once. What becomes known is scored before the day's forecasts are made,
so a forecast never sees its own target.

The clock is a parameter (``today``), so tests and replays run simulated days. Offline
(CoinGecko unreachable) a coin keeps its stored days: it is scored, but not forecast from
an old origin; the job logs why and the next day's run tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from coincast.data.market.cache import MarketCache
from coincast.data.market.refresh import HistoryClient, refresh_coin, utc_today
from coincast.errors import (
    CoincastError,
    DataSourceError,
    SourceUnreachableError,
    UnknownCoinError,
)
from coincast.ledger.records import PRESET_PREFIX, Ledger, Tracked
from coincast.ledger.scoring import score_known
from coincast.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from coincast.forecast.forecaster import Forecaster

__all__ = ["DailyReport", "run_daily", "forecast_tracked"]

log = logging.getLogger("coincast.daily")


@dataclass
class DailyReport:
    day: date
    ran: bool  # False: another process had claimed the day
    refreshed: list[str] = field(default_factory=list)
    forecasts: int = 0
    scored: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.ran:
            return f"{self.day}: the daily job already ran (or runs) elsewhere on this database."
        text = (
            f"{self.day}: {len(self.refreshed)} coin(s) refreshed, {self.forecasts} forecast "
            f"day(s) recorded, {self.scored} scored."
        )
        return text + ("".join(f"\n  {p}" for p in self.problems))


def forecast_tracked(
    settings: Settings, item: Tracked, history: pd.DataFrame
) -> tuple[pd.DataFrame, str]:
    """(forecast frame, version) of one tracked model from ``history``."""
    from coincast.api import Forecaster, load_stored

    fc: Forecaster
    if item.model.startswith(PRESET_PREFIX):
        fc = Forecaster(item.model[len(PRESET_PREFIX) :])
        fc.fit(history, coin=item.coin_id)
        version = ""
    else:
        owner, _, name = item.model.rpartition("/")
        fc, number = load_stored(owner or item.user, name, "latest", settings)
        version = str(number)
    return fc.forecast(item.days, history=history), version


def run_daily(
    settings: Settings,
    *,
    today: date | None = None,
    client_factory: Callable[[], HistoryClient] | None = None,
    ledger: Ledger | None = None,
) -> DailyReport:
    """Run ``today``'s job once per database; ``client_factory`` makes the CoinGecko client."""
    from coincast.api import load_history

    day = today or utc_today()
    ledger = ledger or Ledger(settings)
    report = DailyReport(day, ran=ledger.claim_day(day))
    if not report.ran:
        log.info(report.summary())
        return report
    tracked = ledger.tracked()
    cache = MarketCache(settings)
    fresh = _refresh(settings, cache, sorted({t.coin_id for t in tracked}), day, client_factory,
                     report)  # fmt: skip
    report.scored += score_known(ledger)
    for item in tracked:
        if item.coin_id not in fresh:
            continue
        try:
            history = load_history(item.coin_id, settings)
            history = history[history.index <= str(day)]
            frame, version = forecast_tracked(settings, item, history)
            report.forecasts += ledger.record(
                item.user, item.coin_id, item.model, version, frame, "daily"
            )
        except CoincastError as exc:
            report.problems.append(f"{item.user}/{item.model} on {item.coin_id}: {exc}")
    ok = not report.problems
    ledger.finish_day(day, ok, report.summary())
    (log.info if ok else log.warning)(report.summary())
    return report


def _refresh(
    settings: Settings,
    cache: MarketCache,
    coins: list[str],
    day: date,
    client_factory: Callable[[], HistoryClient] | None,
    report: DailyReport,
) -> set[str]:
    """The coins whose stored history reaches ``day`` after refreshing them."""
    from coincast.data.coingecko.client import CoinGeckoClient

    if not coins:
        return set()
    client = client_factory() if client_factory else CoinGeckoClient(settings)
    fresh: set[str] = set()
    try:
        for coin in coins:
            try:
                refresh_coin(client, cache, coin, today=day)
                report.refreshed.append(coin)
            except UnknownCoinError as exc:
                report.problems.append(f"{coin}: {exc}")
            except (SourceUnreachableError, DataSourceError) as exc:  # offline, down, limited
                report.problems.append(
                    f"CoinGecko could not be reached for {coin} ({exc}); {coin} keeps its "
                    "stored days and is not forecast today. The daily job tries again tomorrow."
                )
            except CoincastError as exc:
                report.problems.append(f"{coin}: refresh failed: {exc}")
            last = cache.last_date(coin)
            if last is not None and last >= day:
                fresh.add(coin)
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()
    return fresh
