"""Is this coin a USD stablecoin? Decided from its prices, with a hint list as backup.

Stablecoins top the by-volume list and forecasting a peg is pointless, so refreshes and
training can skip them (``--exclude-stable``). A hand list alone goes stale (new pegs
appear; old ones break, like TerraUSD in 2022), so the evidence is the price itself:

- from history: over the most recent ``window`` days the price stays at 1 USD — the median
  distance from 1 is at most 1 % and 90 % of days are within 3 %. Only recent behaviour
  counts: tether traded between 0.6 and 1.2 USD in 2015 and is pegged now;
- from a ``/coins/markets`` row (no history yet): the current price and the 24 h high and
  low all within 3 % of 1 USD.

``STABLECOIN_HINTS`` (well-known ids) is consulted only when there is no price evidence.
Coins pegged to other things (EUR, gold) are not USD-stable: their USD price moves.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

__all__ = ["PriceRow", "STABLECOIN_HINTS", "looks_pegged", "market_row_pegged", "is_stablecoin"]

STABLECOIN_HINTS = frozenset(
    {
        "tether",
        "usd-coin",
        "dai",
        "binance-usd",
        "true-usd",
        "paxos-standard",
        "first-digital-usd",
        "frax",
        "usdd",
        "paypal-usd",
        "ethena-usde",
        "gemini-dollar",
    }
)


class PriceRow(Protocol):
    """What the market-row rule reads: a ``MarketCoin`` or a stored coin row."""

    @property
    def current_price(self) -> float | None: ...
    @property
    def high_24h(self) -> float | None: ...
    @property
    def low_24h(self) -> float | None: ...


WINDOW_DAYS = 30
MEDIAN_TOLERANCE = 0.01
SPREAD_TOLERANCE = 0.03
MIN_DAYS = 7


def looks_pegged(prices: pd.Series, *, window: int = WINDOW_DAYS) -> bool:
    """True if the last ``window`` prices hold 1 USD (see module doc for the rule).

    Needs at least ``MIN_DAYS`` valid prices: a coin a few days old has no record yet.

    >>> looks_pegged(pd.Series([1.0, 0.999, 1.001, 1.0, 0.998, 1.002, 1.0]))
    True
    >>> looks_pegged(pd.Series([1.2, 0.6, 1.1, 0.9, 1.3, 0.7, 1.0]))
    False
    """
    recent = pd.to_numeric(prices, errors="coerce").dropna().tail(window).to_numpy(dtype=float)
    if recent.size < MIN_DAYS:
        return False
    distance = np.abs(recent - 1.0)
    return bool(
        np.median(distance) <= MEDIAN_TOLERANCE and np.quantile(distance, 0.9) <= SPREAD_TOLERANCE
    )


def market_row_pegged(coin: PriceRow) -> bool:
    """True if the market row's price, 24 h high and 24 h low are all near 1 USD."""
    values = (coin.current_price, coin.high_24h, coin.low_24h)
    if any(v is None for v in values):
        return False
    return all(abs(float(v) - 1.0) <= SPREAD_TOLERANCE for v in values if v is not None)


def is_stablecoin(
    coin_id: str, *, prices: pd.Series | None = None, market: PriceRow | None = None
) -> bool:
    """Decide from the strongest evidence at hand: history, then market row, then hints."""
    if prices is not None and pd.to_numeric(prices, errors="coerce").notna().sum() >= MIN_DAYS:
        return looks_pegged(prices)
    if market is not None and market.current_price is not None:
        return market_row_pegged(market)
    return coin_id in STABLECOIN_HINTS
