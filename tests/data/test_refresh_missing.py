"""Coin ids CoinGecko answers 404 for: remembered, skipped for a while, then asked again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, update

from coincast.data.coingecko.client import CoinGeckoClient
from coincast.data.market.cache import MarketCache, missing_coins_table
from coincast.data.market.refresh import refresh_coin, refresh_top, summary_line
from coincast.errors import UnknownCoinError
from coincast.settings import Settings
from tests.fakes.coingecko import FakeCoinGecko
from tests.migration_helpers import make_market_cache_database

TOP = 12


def _chart(coin: str) -> str:
    return f"/coins/{coin}/market_chart"


@pytest.fixture
def cache(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> MarketCache:
    return MarketCache(fake_coingecko.settings(tmp_path / "data"))


@pytest.fixture
def client(cache: MarketCache) -> Iterator[CoinGeckoClient]:
    with CoinGeckoClient(cache.settings, sleep=lambda _s: None) as c:
        yield c


def _backdate(cache: MarketCache, coins: set[str], age: timedelta) -> None:
    table = missing_coins_table
    with cache.engine.begin() as conn:
        conn.execute(
            update(table).where(table.c.coin_id.in_(coins)).values(seen_at=datetime.now(UTC) - age)
        )


def _unknown_ids(fake: FakeCoinGecko) -> set[str]:
    ranked = sorted(fake.markets(), key=lambda r: -(r.get("total_volume") or 0))[:TOP]
    return {r["id"] for r in ranked if fake.coin_csv(r["id"]) is None}


def test_a_404_id_is_skipped_until_the_retry_period_has_passed(
    client: CoinGeckoClient, cache: MarketCache, fake_coingecko: FakeCoinGecko
) -> None:
    unknown = _unknown_ids(fake_coingecko)
    assert unknown, "the shared top list should name coins the fake has no file for"
    before = datetime.now(UTC)
    first = refresh_top(client, cache, TOP)
    assert {r.coin_id for r in first if r.error_type == "UnknownCoinError"} == unknown
    recorded = cache.missing_coins()
    assert set(recorded) == unknown
    assert all(before - timedelta(seconds=1) <= t <= datetime.now(UTC) for t in recorded.values())
    asked = {coin: fake_coingecko.count(_chart(coin)) for coin in unknown}
    assert all(n >= 1 for n in asked.values())

    second = refresh_top(client, cache, TOP)
    for coin in unknown:
        assert fake_coingecko.count(_chart(coin)) == asked[coin]  # no request at all
    skipped = [r for r in second if r.status == "skipped_missing"]
    assert {r.coin_id for r in skipped} == unknown
    assert all(
        r.ok and not r.called_api and "COINCAST_MISSING_COIN" in (r.note or "") for r in skipped
    )
    assert f"{len(unknown)} unknown to CoinGecko skipped" in summary_line(second)

    # Just inside the 7-day default: still skipped. Just past it: asked again, once each.
    _backdate(cache, unknown, timedelta(days=7) - timedelta(minutes=5))
    refresh_top(client, cache, TOP)
    assert all(fake_coingecko.count(_chart(c)) == asked[c] for c in unknown)
    _backdate(cache, unknown, timedelta(days=7, minutes=5))
    third = refresh_top(client, cache, TOP)
    assert all(fake_coingecko.count(_chart(c)) == asked[c] + 1 for c in unknown)
    assert {r.coin_id for r in third if r.status == "failed"} == unknown
    assert all(t > datetime.now(UTC) - timedelta(minutes=1) for t in cache.missing_coins().values())


def test_the_retry_period_comes_from_settings(
    fake_coingecko: FakeCoinGecko, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINCAST_MISSING_COIN_RETRY_DAYS", "0")
    settings = fake_coingecko.settings(tmp_path / "data")
    assert settings.missing_coin_retry_days == 0
    assert Settings(_env_file=None).missing_coin_retry_days == 0  # type: ignore[call-arg]
    monkeypatch.delenv("COINCAST_MISSING_COIN_RETRY_DAYS")
    assert Settings(_env_file=None).missing_coin_retry_days == 7  # type: ignore[call-arg]

    cache = MarketCache(settings)
    unknown = _unknown_ids(fake_coingecko)
    with CoinGeckoClient(settings, sleep=lambda _s: None) as client:
        refresh_top(client, cache, TOP)
        again = refresh_top(client, cache, TOP)
    assert not [r for r in again if r.status == "skipped_missing"]  # 0 days: always ask
    assert all(fake_coingecko.count(_chart(c)) == 2 for c in unknown)


def test_an_explicit_fetch_always_asks_and_a_success_forgets_the_record(
    client: CoinGeckoClient, cache: MarketCache, fake_coingecko: FakeCoinGecko
) -> None:
    with pytest.raises(UnknownCoinError):
        refresh_coin(client, cache, "no-such-coin")
    with pytest.raises(UnknownCoinError):
        refresh_coin(client, cache, "no-such-coin")  # recorded, yet asked: the user named it
    assert fake_coingecko.count(_chart("no-such-coin")) == 2
    assert set(cache.missing_coins()) == {"no-such-coin"}

    # A coin recorded as unknown long ago that CoinGecko serves again: asked, then forgotten.
    cache.mark_missing("bitcoin", "coin not found")
    _backdate(cache, {"bitcoin"}, timedelta(days=30))
    results = {r.coin_id: r for r in refresh_top(client, cache, 3)}  # tether, bitcoin, ether
    assert results["bitcoin"].status == "updated" and results["bitcoin"].new_rows > 0
    assert "bitcoin" not in cache.missing_coins()


def test_a_version_1_cache_file_upgrades_in_place(settings: Settings) -> None:
    # What the market cache's former runner left before missing_coins existed.
    settings.data_dir.mkdir(parents=True)
    old = create_engine(settings.sqlalchemy_url)
    make_market_cache_database(old, 1)
    assert "missing_coins" not in inspect(old).get_table_names()
    old.dispose()

    cache = MarketCache(settings)  # opening runs the one migration runner
    assert "missing_coins" in inspect(cache.engine).get_table_names()
    cache.mark_missing("gone-coin")
    assert set(cache.missing_coins()) == {"gone-coin"}
    assert [e.rows for e in cache.fetch_log("bitcoin")] == [5]  # earlier rows kept
