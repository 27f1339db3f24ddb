"""Peg detection from prices (recent behaviour), market rows, and hints as a fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from coincast.data.coingecko.client import MarketCoin
from coincast.data.coingecko.stablecoins import (
    STABLECOIN_HINTS,
    is_stablecoin,
    looks_pegged,
    market_row_pegged,
)


def prices(daily_dir: Path, coin: str) -> pd.Series:
    frame = pd.read_csv(daily_dir / f"{coin}.csv", index_col="date", parse_dates=["date"])
    return frame["price"]


@pytest.mark.parametrize("coin", ["tether", "usd-coin"])
def test_stablecoins_in_the_shared_data_look_pegged(daily_dir: Path, coin: str) -> None:
    assert looks_pegged(prices(daily_dir, coin))


def test_nothing_else_in_the_shared_data_looks_pegged(daily_dir: Path) -> None:
    pegged = {p.stem for p in daily_dir.glob("*.csv") if looks_pegged(prices(daily_dir, p.stem))}
    assert pegged == {"tether", "usd-coin"}


def test_tether_2015_was_not_stable_only_recent_behaviour_counts(daily_dir: Path) -> None:
    tether = prices(daily_dir, "tether")
    assert not looks_pegged(tether[:"2015-03-08"])  # 1.21, 0.61, 0.61, then 1.0 for days
    assert not looks_pegged(tether[:"2017-05-04"])  # the April 2017 de-peg (0.91-0.94)
    assert looks_pegged(tether[:"2017-08-31"])  # back on the peg
    assert (tether - 1).abs().max() > 0.3  # a whole-history rule would call it unstable...
    assert looks_pegged(tether)  # ...but its wild 2015 start does not count against it now


def test_a_short_or_empty_record_is_not_evidence() -> None:
    assert not looks_pegged(pd.Series([1.0] * 6))
    assert not looks_pegged(pd.Series([], dtype="float64"))


def test_market_rows(fixtures_dir: Path) -> None:
    rows = json.loads((fixtures_dir / "coins_markets.json").read_text())
    fields = set(MarketCoin.model_fields) - {"volume_rank"}
    coins = [MarketCoin(volume_rank=i, **{k: r[k] for k in fields}) for i, r in enumerate(rows, 1)]
    pegged = {c.id for c in coins if market_row_pegged(c)}
    assert {"tether", "usd-coin", "binance-usd", "dai"} <= pegged
    assert not pegged & {"bitcoin", "ethereum", "theta-token", "nexo", "wrapped-bitcoin"}


def test_evidence_beats_the_hint_list(daily_dir: Path) -> None:
    assert "tether" in STABLECOIN_HINTS
    assert not is_stablecoin("tether", prices=prices(daily_dir, "tether")[:"2017-05-04"])
    assert is_stablecoin("usd-coin")  # no evidence at all: the hint decides
    assert not is_stablecoin("some-new-coin")
    newcomer = MarketCoin(
        id="new-usd",
        symbol="nusd",
        name="New USD",
        volume_rank=1,
        current_price=1.001,
        high_24h=1.004,
        low_24h=0.998,
    )
    assert is_stablecoin("new-usd", market=newcomer)
    assert is_stablecoin("new-usd", prices=pd.Series([1.0, 0.999, 1.002] * 10))
