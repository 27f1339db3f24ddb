"""The stored coins to train many models on: top by volume, cleaned, pegs left out.

``coincast train --top N`` (and anyone training a model per coin) starts here: it says
which coins have history worth a model, and why each other one was passed over.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from coincast.data.clean import clean
from coincast.data.coingecko.stablecoins import looks_pegged
from coincast.data.frame import validate_history
from coincast.data.market.cache import MarketCache
from coincast.errors import NoDataError
from coincast.settings import Settings

__all__ = ["SkippedCoin", "collect_histories"]


@dataclass(frozen=True)
class SkippedCoin:
    coin: str
    reason: str
    """For the user: why there is no model, and what to run if that can change."""


def collect_histories(
    settings: Settings, top: int, *, include_stable: bool = False
) -> tuple[dict[str, pd.DataFrame], list[SkippedCoin]]:
    """The top ``top`` coins with stored history (cleaned), and the coins skipped on the way.

    Order: the stored top list by volume rank, then any other stored coin by id (CSV
    imports have no rank). Pegged coins are skipped unless asked for: a stablecoin's
    "forecast" is its peg. One cache serves every coin (as ``api.load_history`` would
    per coin: stored history, cleaned, validated).
    """
    cache = MarketCache(settings)
    stored = {s.coin_id for s in cache.summaries()}
    ranked = [c.id for c in cache.coins() if c.volume_rank is not None]
    order = list(dict.fromkeys([*ranked, *sorted(stored)]))
    if not order:
        raise NoDataError(
            "No coins stored yet. Run `coincast data refresh --top 100` (or `coincast data "
            "import FILE --coin ID`) first."
        )
    histories: dict[str, pd.DataFrame] = {}
    skipped: list[SkippedCoin] = []
    for coin in order:
        if len(histories) >= top:
            break
        if coin not in stored:
            skipped.append(
                SkippedCoin(coin, f"no stored history; run `coincast data fetch {coin}`.")
            )
            continue
        frame, _report = clean(cache.history(coin), settings)
        history = validate_history(frame, what=coin)
        if not include_stable and looks_pegged(history["price"]):
            skipped.append(SkippedCoin(coin, "skipped: holds a 1 USD peg (stablecoin)."))
            continue
        histories[coin] = history
    return histories, skipped
