"""CoinGeckoClient against the loopback fake: request shapes, data, plans, faults, limits."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from coincast.data.coingecko.client import CoinGeckoClient
from coincast.errors import (
    UnknownCoinError,
)
from coincast.server.error_status import status_for
from tests.fakes.coingecko import FakeCoinGecko
from tests.helpers.coingecko import Sleeps, assert_same_history, shifted_csv

CSV_HINT = "import history from CSV with `coincast data import FILE --coin ID`"


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(
    fake_coingecko: FakeCoinGecko, tmp_path: Path, sleeps: Sleeps
) -> Iterator[CoinGeckoClient]:
    with CoinGeckoClient(fake_coingecko.settings(tmp_path), sleep=sleeps) as c:
        yield c


# -- request shape ---------------------------------------------------------------------


def test_public_requests_carry_no_key_and_the_documented_params(
    client: CoinGeckoClient, fake_coingecko: FakeCoinGecko
) -> None:
    client.top_coins(10)
    client.daily_history("bitcoin", 30)
    markets, chart = fake_coingecko.requests
    assert markets.path == "/coins/markets"
    assert markets.params == {
        "vs_currency": "usd",
        "order": "volume_desc",
        "per_page": "100",
        "page": "1",
    }
    assert chart.path == "/coins/bitcoin/market_chart"
    assert chart.params == {"vs_currency": "usd", "days": "30", "interval": "daily"}
    for rec in (markets, chart):
        assert not {"x-cg-demo-api-key", "x-cg-pro-api-key"} & set(rec.headers)
        assert rec.headers["accept"] == "application/json"
        assert rec.headers["user-agent"].startswith("coincast/")


@pytest.mark.parametrize(
    ("plan", "header", "other"),
    [
        ("demo", "x-cg-demo-api-key", "x-cg-pro-api-key"),
        ("pro", "x-cg-pro-api-key", "x-cg-demo-api-key"),
    ],
)
def test_the_key_goes_in_its_plans_header(
    fake_coingecko: FakeCoinGecko, tmp_path: Path, plan: str, header: str, other: str
) -> None:
    fake_coingecko.mode = "pro" if plan == "pro" else "public"
    settings = fake_coingecko.settings(tmp_path, plan=plan, api_key=f"CG-{plan}")
    with CoinGeckoClient(settings) as c:
        c.daily_history("ethereum", 3)
    (rec,) = fake_coingecko.requests
    assert rec.headers[header] == f"CG-{plan}"
    assert other not in rec.headers


# -- markets -----------------------------------------------------------------------------


def test_top_coins_are_ordered_by_volume_with_ranks(
    client: CoinGeckoClient, fixtures_dir: Path
) -> None:
    raw = json.loads((fixtures_dir / "coins_markets.json").read_text())
    want = [r["id"] for r in sorted(raw, key=lambda r: -r["total_volume"])][:20]
    coins = client.top_coins(20)
    assert [c.id for c in coins] == want
    assert [c.volume_rank for c in coins] == list(range(1, 21))
    volumes = [c.total_volume or 0.0 for c in coins]
    assert volumes == sorted(volumes, reverse=True)
    btc = next(c for c in coins if c.id == "bitcoin")
    src = next(r for r in raw if r["id"] == "bitcoin")
    assert (btc.symbol, btc.market_cap_rank, btc.current_price) == ("btc", 1, 20220.0)
    assert btc.high_24h == src["high_24h"] and btc.low_24h == src["low_24h"]


def test_more_than_one_page_is_paged_and_stops_at_the_end(
    client: CoinGeckoClient, fake_coingecko: FakeCoinGecko
) -> None:
    coins = client.top_coins(250)
    assert len(coins) == 100  # the fake knows 100 coins
    assert len({c.id for c in coins}) == 100
    assert [r.params["page"] for r in fake_coingecko.log("/coins/markets")] == ["1", "2"]


# -- history -----------------------------------------------------------------------------


def test_history_equals_the_source_csv_and_drops_the_request_time_point(
    client: CoinGeckoClient, fake_coingecko: FakeCoinGecko, daily_dir: Path
) -> None:
    got = client.daily_history("bitcoin", 90)
    want = shifted_csv(daily_dir, "bitcoin").tail(90)
    assert len(got) == 90
    assert got.index[-1] == pd.Timestamp(datetime.now(UTC).date())  # today's 00:00 snapshot
    assert_same_history(got, want)


def test_missing_market_caps_become_nan(client: CoinGeckoClient, daily_dir: Path) -> None:
    got = client.daily_history("tether", 365)
    want = shifted_csv(daily_dir, "tether").tail(365)
    assert_same_history(got, want)
    assert got["market_cap"].isna().sum() == want["market_cap"].isna().sum()


def test_public_plan_caps_at_365_days_with_one_notice(
    client: CoinGeckoClient, fake_coingecko: FakeCoinGecko, daily_dir: Path
) -> None:
    got = client.daily_history("bitcoin")  # "as much as allowed"
    client.daily_history("ethereum", 2000)
    assert len(got) == 365
    assert_same_history(got, shifted_csv(daily_dir, "bitcoin").tail(365))
    assert [r.params["days"] for r in fake_coingecko.requests] == ["365", "365"]
    assert all(r.status == 200 for r in fake_coingecko.requests)  # never provoked a 401
    assert client.notices == [
        "The CoinGecko public plan only serves the last 365 days, so bitcoin (and every coin "
        "after it) was fetched for 365 days instead of all history. For full history set "
        f"COINCAST_COINGECKO_PLAN=pro with a pro key, or {CSV_HINT}."
    ]


def test_demo_plan_is_capped_too(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> None:
    settings = fake_coingecko.settings(tmp_path, plan="demo", api_key="CG-demo")
    with CoinGeckoClient(settings) as c:
        assert len(c.daily_history("ethereum", 500)) == 365
        assert len(c.notices) == 1 and "demo plan" in c.notices[0]


def test_pro_plan_gets_full_history_in_range_chunks(
    fake_coingecko: FakeCoinGecko, tmp_path: Path, daily_dir: Path
) -> None:
    fake_coingecko.mode = "pro"
    settings = fake_coingecko.settings(tmp_path, plan="pro", api_key="CG-pro")
    with CoinGeckoClient(settings) as c:
        got = c.daily_history("litecoin")
        assert c.notices == []
    want = shifted_csv(daily_dir, "litecoin")
    assert_same_history(got, want)
    chunks = fake_coingecko.log("/coins/litecoin/market_chart/range")
    assert len(chunks) == math.ceil(len(want) / 365) + 1  # the last one finds nothing
    spans = [(int(r.params["from"]), int(r.params["to"])) for r in chunks]
    assert all(b - a < 365 * 86_400 for a, b in spans)
    assert all(spans[i + 1][1] == spans[i][0] - 1 for i in range(len(spans) - 1))


def test_pro_plan_with_days_over_a_chunk(
    fake_coingecko: FakeCoinGecko, tmp_path: Path, daily_dir: Path
) -> None:
    fake_coingecko.mode = "pro"
    settings = fake_coingecko.settings(tmp_path, plan="pro", api_key="CG-pro")
    with CoinGeckoClient(settings) as c:
        got = c.daily_history("ethereum", 400)
        assert len(c.daily_history("ethereum", 365)) == 365
    assert_same_history(got, shifted_csv(daily_dir, "ethereum").tail(400))
    assert fake_coingecko.count("/coins/ethereum/market_chart/range") == 2
    assert fake_coingecko.count("/coins/ethereum/market_chart") == 1


def test_unknown_coin_is_not_retried(
    client: CoinGeckoClient, fake_coingecko: FakeCoinGecko, sleeps: Sleeps
) -> None:
    with pytest.raises(UnknownCoinError) as info:
        client.daily_history("not-a-coin", 10)
    assert str(info.value) == (
        "CoinGecko has no coin with id 'not-a-coin'. Ids are lowercase slugs such as "
        "'bitcoin' or 'usd-coin'; `coincast data top` lists the current ones."
    )
    assert status_for(type(info.value)) == 404
    assert fake_coingecko.count() == 1 and sleeps == []


def test_importing_the_data_source_pulls_in_no_cli_stack() -> None:
    """httpx imports click/rich when installed; the module defers httpx for that reason."""
    code = (
        "import sys, coincast.data.coingecko.client, coincast.data.coingecko.stablecoins\n"
        "bad = {'rich', 'click', 'typer', 'pygments', 'fastapi', 'starlette', 'uvicorn'}\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
