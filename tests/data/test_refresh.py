"""Incremental refresh against the fake CoinGecko: request counts, faults, no lost rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import delete

from coincast.data.coingecko.client import CoinGeckoClient
from coincast.data.market.cache import MarketCache, daily_table
from coincast.data.market.refresh import refresh_coin, refresh_top
from tests.fakes.coingecko import FakeCoinGecko, Fault
from tests.helpers.coingecko import Sleeps, assert_same_history, shifted_csv

CHART = "/coins/*/market_chart"


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def cache(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> MarketCache:
    return MarketCache(fake_coingecko.settings(tmp_path / "data"))


@pytest.fixture
def client(cache: MarketCache, sleeps: Sleeps) -> Iterator[CoinGeckoClient]:
    with CoinGeckoClient(cache.settings, sleep=sleeps) as c:
        yield c


def _today() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC).date())


def test_first_refresh_then_no_call_then_only_missing_days(
    client: CoinGeckoClient, cache: MarketCache, fake_coingecko: FakeCoinGecko, daily_dir: Path
) -> None:
    want = shifted_csv(daily_dir, "bitcoin")
    first = refresh_coin(client, cache, "bitcoin")
    # Nothing stored yet: as much as the public plan allows (365 days), one call.
    assert [r.params["days"] for r in fake_coingecko.log(CHART)] == ["365"]
    assert first.status == "updated" and first.new_rows == 365
    assert_same_history(cache.history("bitcoin"), want.iloc[-365:])
    assert first.last_date == _today().date()

    again = refresh_coin(client, cache, "bitcoin")
    assert again.status == "up_to_date" and not again.called_api
    assert fake_coingecko.count(CHART) == 1  # no request at all

    # Lose the last three days: the next refresh asks for exactly those three.
    with cache.engine.begin() as conn:
        conn.execute(
            delete(daily_table).where(daily_table.c.date > (_today() - pd.Timedelta(days=3)).date())
        )
    assert cache.last_date("bitcoin") == (_today() - pd.Timedelta(days=3)).date()
    third = refresh_coin(client, cache, "bitcoin")
    assert fake_coingecko.log(CHART)[-1].params["days"] == "3"
    assert third.new_rows == 3 and third.fetched_rows == 3
    assert_same_history(cache.history("bitcoin"), want.iloc[-365:])
    assert [(e.kind, e.ok, e.requested_days) for e in cache.fetch_log("bitcoin")] == [
        ("history", True, 3),
        ("history", True, None),
    ]


def test_refresh_after_a_csv_import_continues_from_its_last_day(
    client: CoinGeckoClient, cache: MarketCache, fake_coingecko: FakeCoinGecko, daily_dir: Path
) -> None:
    want = shifted_csv(daily_dir, "ethereum")
    cache.upsert_history("ethereum", want.iloc[:-10], source="csv")
    result = refresh_coin(client, cache, "ethereum")
    assert fake_coingecko.log(CHART)[-1].params["days"] == "10"
    assert result.new_rows == 10
    assert_same_history(cache.history("ethereum"), want)
    assert cache.summaries()[0].sources == ("coingecko", "csv")


def test_refresh_top_20_then_second_run_is_minimal(
    client: CoinGeckoClient, cache: MarketCache, fake_coingecko: FakeCoinGecko, daily_dir: Path
) -> None:
    seen: list[tuple[str, int, int]] = []
    results = refresh_top(client, cache, 20, on_coin=lambda r, i, n: seen.append((r.coin_id, i, n)))
    ranked = [c.id for c in cache.coins()]
    assert len(ranked) == 20 and [s[0] for s in seen] == ranked
    assert [s[1:] for s in seen] == [(i, 20) for i in range(1, 21)]
    with_data = {r.coin_id for r in results if r.ok}
    # The fake knows the coins that have a shared file; the others are "coin not found".
    assert with_data == {c for c in ranked if (daily_dir / f"{c}.csv").is_file()}
    assert len(with_data) >= 10
    for r in results:
        if not r.ok:
            assert r.error_type == "UnknownCoinError" and f"'{r.coin_id}'" in (r.error or "")
    assert {s.coin_id for s in cache.summaries()} == with_data
    assert fake_coingecko.count("/coins/markets") == 1 and fake_coingecko.count(CHART) == 20

    second = refresh_top(client, cache, 20)
    # One list call; no chart call: the coins with data are current, the unknown ones were
    # answered 404 moments ago (test_refresh_missing.py covers the retry period).
    assert fake_coingecko.count("/coins/markets") == 2
    assert fake_coingecko.count(CHART) == 20
    assert {r.coin_id for r in second if r.status == "up_to_date"} == with_data
    assert {r.coin_id for r in second if r.status == "skipped_missing"} == set(ranked) - with_data


def test_faults_are_retried_and_no_row_is_lost(
    client: CoinGeckoClient,
    cache: MarketCache,
    fake_coingecko: FakeCoinGecko,
    daily_dir: Path,
    sleeps: Sleeps,
) -> None:
    fake_coingecko.inject("/coins/markets", [Fault.status(429, retry_after=2)])
    # Every coin meets faults, none more than the client's retries can absorb.
    per_coin = {
        "tether": [Fault.status(429, retry_after=1), Fault.status(500)],
        "bitcoin": [Fault.status(502), Fault.status(429)],
        "ethereum": [Fault.truncated(), Fault.status(503)],
    }
    for coin, faults in per_coin.items():
        fake_coingecko.inject(f"/coins/{coin}/market_chart", faults)
    results = refresh_top(client, cache, 8)
    expected = {r.coin_id for r in results if (daily_dir / f"{r.coin_id}.csv").is_file()}
    assert {r.coin_id for r in results if r.ok} == expected
    for coin in expected:
        assert_same_history(cache.history(coin), shifted_csv(daily_dir, coin).iloc[-365:])
    assert 2.0 in sleeps and 1.0 in sleeps  # Retry-After honoured (recorded, not waited)
    statuses = [r.status for r in fake_coingecko.log(CHART)]
    assert statuses.count(429) == 2 and statuses.count(500) == 1


def test_one_coin_failing_keeps_its_old_rows_and_the_others(
    client: CoinGeckoClient, cache: MarketCache, fake_coingecko: FakeCoinGecko, daily_dir: Path
) -> None:
    old = shifted_csv(daily_dir, "ethereum").iloc[-400:-5]
    cache.upsert_history("ethereum", old, source="csv")
    # ethereum is third by volume: its refresh fails after every retry.
    retries = cache.settings.max_retries + 1
    fake_coingecko.inject("/coins/ethereum/market_chart", [Fault.status(500)] * retries)
    results = {r.coin_id: r for r in refresh_top(client, cache, 3)}
    assert results["ethereum"].status == "failed"
    assert results["ethereum"].error_type is not None and "ethereum" in (
        results["ethereum"].error or ""
    )
    assert_same_history(cache.history("ethereum"), old)
    assert results["bitcoin"].ok and results["tether"].ok
    assert cache.last_date("bitcoin") == _today().date()
    (entry,) = cache.fetch_log("ethereum")
    assert not entry.ok and entry.requested_days == 5


def test_exclude_stable_skips_pegged_coins(
    client: CoinGeckoClient, cache: MarketCache, fake_coingecko: FakeCoinGecko
) -> None:
    results = refresh_top(client, cache, 6, exclude_stable=True)
    skipped = {r.coin_id for r in results if r.status == "skipped_stable"}
    assert {"tether", "usd-coin", "binance-usd"} <= skipped
    assert "bitcoin" not in skipped and "ethereum" not in skipped
    asked = {r.path.split("/")[2] for r in fake_coingecko.log(CHART)}
    assert not asked & skipped


def test_yesterday_is_one_day(cache: MarketCache, client: CoinGeckoClient, daily_dir: Path) -> None:
    """A store last updated yesterday asks for days=1 and gets exactly today's row."""
    want = shifted_csv(daily_dir, "litecoin")
    cache.upsert_history("litecoin", want.iloc[-30:-1], source="csv")
    result = refresh_coin(client, cache, "litecoin")
    assert result.requested_days == 1 and result.new_rows == 1
    assert cache.last_date("litecoin") == (want.index[-1]).date()
    assert_same_history(cache.history("litecoin"), want.iloc[-30:])


def test_old_csv_data_does_not_break_stablecoin_check(
    client: CoinGeckoClient, cache: MarketCache, daily_dir: Path
) -> None:
    """tether imported from an old file (2015, far from the peg) has no recent prices."""
    old = shifted_csv(daily_dir, "tether").iloc[:200]
    cache.upsert_history("tether", old, source="csv")
    results = {r.coin_id: r for r in refresh_top(client, cache, 3, exclude_stable=True)}
    assert results["tether"].status == "skipped_stable"  # decided from the market row
    assert results["bitcoin"].status == "updated"
