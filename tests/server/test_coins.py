"""Coins and history over HTTP, filled from a loopback fake CoinGecko (real HTTP both ways)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.coingecko import Fault
from tests.helpers.live_server import LiveServer, serve


@pytest.fixture
def site(fake_coingecko: Any, tmp_path: Path) -> Iterator[tuple[LiveServer, Any]]:
    settings = fake_coingecko.settings(tmp_path / "data", max_retries=1, backoff_max=0.1)
    with serve(settings) as srv:
        yield srv, fake_coingecko


def test_top_coins_come_from_coingecko_once_then_from_the_store(
    site: tuple[LiveServer, Any],
) -> None:
    srv, fake = site
    by_volume = sorted(fake.markets(), key=lambda r: -(r.get("total_volume") or 0))
    with srv.client() as c:
        r = c.get("/coins", params={"limit": 10})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["credit"] == "Data provided by CoinGecko"
        assert [x["id"] for x in body["coins"]] == [x["id"] for x in by_volume[:10]]
        assert [x["volume_rank"] for x in body["coins"]] == list(range(1, 11))
        assert body["coins"][0]["current_price"] == pytest.approx(by_volume[0]["current_price"])
        calls = fake.count("/coins/markets")
        assert calls >= 1
        assert len(c.get("/coins", params={"limit": 5}).json()["coins"]) == 5
        assert fake.count("/coins/markets") == calls
        assert c.get("/coins", params={"limit": 0}).status_code == 422


def test_history_is_fetched_once_and_matches_the_source(site: tuple[LiveServer, Any]) -> None:
    srv, fake = site
    with srv.client() as c:
        r = c.get("/coins/bitcoin/history")
        assert r.status_code == 200, r.text
        h = r.json()
        rows = fake.shifted_rows("bitcoin")
        # Daily points at 00:00 UTC; the fake's extra request-time point must not appear.
        finished = {datetime.fromtimestamp(t, UTC).date().isoformat(): p for t, p, _v, _m in rows}
        assert h["dates"] == sorted(h["dates"]) and len(h["dates"]) >= 300
        assert h["dates"][-1] == max(finished)
        for day, price in zip(h["dates"], h["price"], strict=True):
            assert price == pytest.approx(finished[day], rel=1e-12)
        calls = fake.count("/coins/bitcoin/*")
        again = c.get("/coins/bitcoin/history", params={"start": h["dates"][-10]}).json()
        assert again["dates"] == h["dates"][-10:]
        assert fake.count("/coins/bitcoin/*") == calls


def test_coingecko_errors_reach_the_client_as_clear_statuses(
    site: tuple[LiveServer, Any],
) -> None:
    srv, fake = site
    with srv.client() as c:
        unknown = c.get("/coins/no-such-coin-xyz/history")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["type"] == "UnknownCoinError"

        fake.inject("/coins/*/market_chart", [Fault.status(429, retry_after=0)] * 5)
        limited = c.get("/coins/ethereum/history")
        assert limited.status_code == 429, limited.text
        assert limited.json()["error"]["type"] == "RateLimitedError"
        assert len(limited.json()["error"]["message"]) > 30

        bad = c.get("/coins/Not A Coin/history")
        assert bad.status_code == 400 and "coin id" in bad.json()["error"]["message"]
