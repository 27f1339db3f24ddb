"""The daily job over simulated days against the fake CoinGecko (clock injected)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from coincast.api import Forecaster, save
from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.ledger.daily import run_daily
from coincast.ledger.records import Ledger
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from tests.fakes.coingecko import FakeCoinGecko, Fault

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tracked(fake_coingecko: FakeCoinGecko, tmp_path: Path, daily_dir: Path) -> Settings:
    """A small saved model of bitcoin, tracked for 3-day forecasts."""
    settings = fake_coingecko.settings(tmp_path / "data", max_retries=0)
    history = read_history_csv(daily_dir / "bitcoin.csv").loc["2023-01-01":]
    fc = Forecaster("shrunk", epochs=2, window=10, units=(8,))
    fc.fit(history, coin="bitcoin")
    save(fc, ModelRegistry(settings), "local", "btc")
    Ledger(settings).track("local", "bitcoin", "btc", days=3)
    return settings


def test_five_simulated_days_record_and_score_what_became_known(
    tracked: Settings, fake_coingecko: FakeCoinGecko
) -> None:
    start = datetime.now(UTC).date() - timedelta(days=10)
    reports = []
    for d in range(5):
        day = start + timedelta(days=d)
        fake_coingecko.today = day
        reports.append(run_daily(tracked, today=day))
    assert [r.ran for r in reports] == [True] * 5
    assert [r.forecasts for r in reports] == [3] * 5
    # Day k learns day k's price: the 1-day forecast of k-1, the 2-day of k-2, ...
    assert [r.scored for r in reports] == [0, 1, 2, 3, 3]
    assert all(not r.problems for r in reports), [r.problems for r in reports]

    rows = Ledger(tracked).rows("local", "bitcoin")
    assert len(rows) == 15 and {r.source for r in rows} == {"daily"}
    assert {r.origin_date for r in rows} == {start + timedelta(days=d) for d in range(5)}
    assert {r.version for r in rows} == {"1"}
    prices = MarketCache(tracked).history("bitcoin")["price"]
    assert prices.index[-1].date() == start + timedelta(days=4)  # nothing after the clock
    scored = [r for r in rows if r.scored]
    assert len(scored) == 9
    for r in scored:
        actual = float(prices[str(r.target_date)])
        assert r.actual == pytest.approx(actual)
        assert r.naive == pytest.approx(float(prices[str(r.origin_date)]))
        assert r.naive_error == pytest.approx(r.naive - actual)
    # The same day again (another process, or cron twice) does nothing.
    again = run_daily(tracked, today=start + timedelta(days=4))
    assert not again.ran and again.forecasts == 0
    assert len(Ledger(tracked).rows("local", "bitcoin")) == 15


def test_offline_day_logs_why_and_the_next_day_catches_up(
    tracked: Settings, fake_coingecko: FakeCoinGecko, caplog: pytest.LogCaptureFixture
) -> None:
    start = datetime.now(UTC).date() - timedelta(days=6)
    fake_coingecko.today = start
    assert run_daily(tracked, today=start).forecasts == 3
    day = start + timedelta(days=1)
    fake_coingecko.today = day
    fake_coingecko.inject("/coins/*/market_chart", [Fault.disconnect()])  # no retries here
    with caplog.at_level("WARNING", logger="coincast.daily"):
        offline = run_daily(tracked, today=day)
    assert offline.ran and offline.forecasts == 0
    assert "could not be reached" in offline.problems[0]
    assert "tries again tomorrow" in offline.problems[0]
    assert "tries again tomorrow" in caplog.text
    runs = Ledger(tracked).runs()
    assert [r["ok"] for r in runs] == [True, False]
    nxt = start + timedelta(days=2)
    fake_coingecko.today = nxt
    caught = run_daily(tracked, today=nxt)
    assert caught.forecasts == 3 and caught.scored == 2  # day 1's and day 2's prices
    assert MarketCache(tracked).last_date("bitcoin") == nxt


def test_a_day_with_nothing_tracked_runs_and_records_the_run(settings: Settings) -> None:
    day = date(2024, 6, 1)
    report = run_daily(settings, today=day)
    assert report.ran and report.forecasts == 0 and report.refreshed == []
    assert [r["day"] for r in Ledger(settings).runs()] == [day]
