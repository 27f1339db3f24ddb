"""``collect_histories``: which stored coins ``train --top`` trains, in which order, and
why the others are passed over."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.data.market.top import SkippedCoin, collect_histories
from coincast.errors import NoDataError
from coincast.settings import Settings


@dataclass(frozen=True)
class _Coin:  # the fields upsert_coins reads (MarketCoinLike)
    id: str
    volume_rank: int
    symbol: str = "x"
    name: str = "X"
    market_cap_rank: int | None = None
    current_price: float | None = None
    total_volume: float | None = None
    market_cap: float | None = None
    high_24h: float | None = None
    low_24h: float | None = None
    price_change_percentage_24h: float | None = None


def test_ranked_first_then_by_id_pegs_and_missing_history_skipped(
    settings: Settings, daily_dir: Path
) -> None:
    cache = MarketCache(settings)
    for coin in ("bitcoin", "tether", "tron", "cardano"):
        cache.upsert_history(coin, read_history_csv(daily_dir / f"{coin}.csv").iloc[-120:], "csv")
    # Ranked: tron, then a coin with no history, then tether (pegged).
    cache.upsert_coins([_Coin("tron", 1), _Coin("solana", 2), _Coin("tether", 3)])

    histories, skipped = collect_histories(settings, 3)
    assert list(histories) == ["tron", "bitcoin", "cardano"]  # ranked, then the rest by id
    assert skipped == [
        SkippedCoin("solana", "no stored history; run `coincast data fetch solana`."),
        SkippedCoin("tether", "skipped: holds a 1 USD peg (stablecoin)."),
    ]
    assert histories["bitcoin"].index.is_monotonic_increasing
    assert len(histories["bitcoin"]) == 120

    with_pegs, _ = collect_histories(settings, 2, include_stable=True)
    assert list(with_pegs) == ["tron", "tether"]


def test_nothing_stored_says_how_to_get_data(settings: Settings) -> None:
    with pytest.raises(NoDataError, match="coincast data refresh --top 100"):
        collect_histories(settings, 5)
