"""The fake CoinGecko itself keeps CoinGecko's rules, so client tests mean something."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.fakes.coingecko import FakeCoinGecko, Fault


def test_days_over_365_without_pro_key_is_refused_like_coingecko(
    fake_coingecko: FakeCoinGecko, fixtures_dir: Path
) -> None:
    url = f"{fake_coingecko.url}/coins/bitcoin/market_chart"
    r = httpx.get(url, params={"vs_currency": "usd", "days": 366, "interval": "daily"})
    assert r.status_code == 401
    recorded = json.loads((fixtures_dir / "error_401_time_range_exceeded.json").read_text())
    assert r.json() == recorded
    assert r.json()["error"]["status"]["error_code"] == 10012
    r = httpx.get(url, params={"vs_currency": "usd", "days": 365, "interval": "daily"})
    assert r.status_code == 200


def test_market_chart_shape_and_trailing_point(fake_coingecko: FakeCoinGecko) -> None:
    url = f"{fake_coingecko.url}/coins/ethereum/market_chart"
    body = httpx.get(url, params={"vs_currency": "usd", "days": 90, "interval": "daily"}).json()
    assert set(body) == {"prices", "market_caps", "total_volumes"}
    assert all(len(body[k]) == 91 for k in body)  # like the recorded fixture: 90 + 1
    stamps = [t for t, _ in body["prices"]]
    assert all(t % 86_400_000 == 0 for t in stamps[:-1]) and stamps[-1] % 86_400_000 != 0
    today = datetime.now(UTC).date()
    assert datetime.fromtimestamp(stamps[-2] / 1000, UTC).date() == today


def test_unknown_coin_and_bad_path(fake_coingecko: FakeCoinGecko) -> None:
    r = httpx.get(f"{fake_coingecko.url}/coins/nope/market_chart", params={"days": 1})
    assert (r.status_code, r.json()) == (404, {"error": "coin not found"})
    r = httpx.get(f"{fake_coingecko.url}/nothing/here")
    assert r.status_code == 404 and r.json()["error"].startswith("Incorrect path")


def test_faults_are_consumed_in_order_per_glob(fake_coingecko: FakeCoinGecko) -> None:
    fake_coingecko.inject("/coins/markets", [Fault.status(429, retry_after=3), Fault.status(500)])
    url = f"{fake_coingecko.url}/coins/markets"
    first, second, third = (httpx.get(url, params={"order": "volume_desc"}) for _ in range(3))
    assert (first.status_code, first.headers["retry-after"]) == (429, "3")
    assert second.status_code == 500 and "retry-after" not in second.headers
    assert third.status_code == 200 and len(third.json()) == 100
    assert fake_coingecko.counts() == {"/coins/markets": 3}


@pytest.mark.slow
def test_runs_standalone(shared_dir: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.coingecko", "--port", "0", "--shared", str(shared_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        body = httpx.get(f"{url}/coins/markets", params={"order": "volume_desc"}).json()
        assert body[0]["id"] == "tether"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    time.sleep(0)
