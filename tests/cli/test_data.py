"""``coincast data …`` end to end: real fake-CoinGecko server, real SQLite file, CliRunner."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from coincast.cli import app
from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.errors import NoDataError
from coincast.settings import Settings
from tests.fakes.coingecko import FakeCoinGecko
from tests.helpers.store_rows import assert_frame_matches_rows, reference_rows

CHART = "/coins/*/market_chart"


@pytest.fixture
def env(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> dict[str, str]:
    return {
        "COINCAST_DATA_DIR": str(tmp_path / "data"),
        "COINCAST_COINGECKO_URL": fake_coingecko.url,
        "COINCAST_COINGECKO_PLAN": "public",
        "COINCAST_REQUESTS_PER_MINUTE": "600000",
        "COINCAST_HTTP_TIMEOUT": "2",
        "COINCAST_MAX_RETRIES": "2",
        "COLUMNS": "200",
    }


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def cache_for(env: dict[str, str]) -> MarketCache:
    return MarketCache(Settings(_env_file=None, data_dir=Path(env["COINCAST_DATA_DIR"])))  # type: ignore[call-arg]


def test_refresh_top_20_stores_20_coins_then_second_run_is_incremental(
    env: dict[str, str], fake_coingecko: FakeCoinGecko, daily_dir: Path
) -> None:
    result = run(env, "data", "refresh", "--top", "20")
    assert result.exit_code == 0, result.output
    cache = cache_for(env)
    coins = [c.id for c in cache.coins()]
    assert len(coins) == 20
    have_data = {c for c in coins if (daily_dir / f"{c}.csv").is_file()}
    assert {s.coin_id for s in cache.summaries()} == have_data
    assert "Refresh summary" in result.output
    assert f"20 coins: {len(have_data)} updated ({365 * len(have_data)} new days)" in result.output
    assert f"{20 - len(have_data)} failed." in result.output
    calls = fake_coingecko.count(CHART)
    assert calls == 20

    again = run(env, "data", "refresh", "--top", "20")
    assert again.exit_code == 0, again.output
    assert f"{len(have_data)} already up to date" in again.output
    assert f"{20 - len(have_data)} unknown to CoinGecko skipped" in again.output
    assert fake_coingecko.count(CHART) == calls  # the unknown ids were 404 moments ago


def test_refresh_exclude_stable(env: dict[str, str], fake_coingecko: FakeCoinGecko) -> None:
    result = run(env, "data", "refresh", "--top", "5", "--exclude-stable")
    assert result.exit_code == 0, result.output
    stored = {s.coin_id for s in cache_for(env).summaries()}
    assert stored == {"bitcoin", "ethereum"}  # tether, binance-usd, usd-coin are pegged
    assert "3 stablecoins skipped" in result.output


def test_fetch_then_nothing_to_fetch(env: dict[str, str], fake_coingecko: FakeCoinGecko) -> None:
    result = run(env, "data", "fetch", "bitcoin", "--days", "30")
    assert result.exit_code == 0, result.output
    assert "bitcoin: 30 day(s) fetched, 30 new" in result.output
    assert fake_coingecko.log(CHART)[-1].params["days"] == "30"
    again = run(env, "data", "fetch", "bitcoin")
    assert "already up to date" in again.output and "no request made" in again.output
    assert fake_coingecko.count(CHART) == 1


def test_unknown_coin_is_one_clean_error_line(env: dict[str, str]) -> None:
    result = run(env, "data", "fetch", "not-a-coin")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: CoinGecko has no coin with id 'not-a-coin'.")
    assert "Traceback" not in result.output


def test_unreachable_coingecko_says_so(env: dict[str, str]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**env, "COINCAST_COINGECKO_URL": f"http://127.0.0.1:{port}/api/v3"}
    env["COINCAST_MAX_RETRIES"] = "0"  # the message, not the backoff, is under test
    result = run(env, "data", "refresh", "--top", "3")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "coincast data import" in result.stderr  # the offline way out


def test_import_show_clean(env: dict[str, str], daily_dir: Path, tmp_path: Path) -> None:
    source = daily_dir / "usd-coin.csv"
    result = run(env, "data", "import", str(source), "--coin", "usd-coin")
    assert result.exit_code == 0, result.output
    assert "usd-coin: imported 2600 day(s)" in result.output
    assert_frame_matches_rows(cache_for(env).history("usd-coin"), reference_rows(source))

    listing = run(env, "data", "show")
    assert "usd-coin" in listing.output and "2600" in listing.output and "csv" in listing.output
    one = run(env, "data", "show", "usd-coin", "--days", "3")
    assert one.exit_code == 0, one.output
    assert "2025-11-20" in one.output and "2025-11-17" not in one.output

    out_csv = tmp_path / "clean.csv"
    cleaned = run(env, "data", "clean", "usd-coin", "--report", "--output", str(out_csv))
    assert cleaned.exit_code == 0, cleaned.output
    spike_lines = [line for line in cleaned.output.splitlines() if "│ volume_spike" in line]
    assert len(spike_lines) == 2 and "2022-01-26" in spike_lines[0]
    reread = read_history_csv(out_csv)
    assert reread["volume"].max() < 1e12  # the 8e13 glitches are gone from the written file


def test_bad_import_stores_nothing(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,price,volume\n2024-01-01,1,2\n2024-01-02,x,2\n")
    result = run(env, "data", "import", str(bad), "--coin", "foo")
    assert result.exit_code == 1
    assert f"error: {bad}, line 3: price 'x' is not a number" in " ".join(result.stderr.split())
    with pytest.raises(NoDataError):
        cache_for(env).history("foo")
    assert run(env, "data", "show", "foo").exit_code == 1


def test_top_lists_and_marks_stablecoins(env: dict[str, str]) -> None:
    result = run(env, "data", "top", "--top", "5")
    assert result.exit_code == 0, result.output
    assert "tether (stable)" in result.output and "bitcoin" in result.output
    hidden = run(env, "data", "top", "--top", "5", "--offline", "--exclude-stable")
    assert "tether" not in hidden.output and "ethereum" in hidden.output


def test_import_close_convention(env: dict[str, str], daily_dir: Path) -> None:
    result = run(env, "data", "import", str(daily_dir / "litecoin.csv"), "--coin", "ltc", "--close")
    assert result.exit_code == 0, result.output
    assert "2013-04-30 … 2025-08-24" in result.output  # each close dated as the next 00:00
    assert str(cache_for(env).last_date("ltc")) == "2025-08-24"
