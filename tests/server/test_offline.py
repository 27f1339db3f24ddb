"""CoinGecko unreachable, two coins imported from CSV: what the API still answers.

Reads work from the store (200, or a 404 that says how to get the coin), the data's age
is reported against an injected calendar, and only the refresh endpoints answer 503.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.live_server import LiveServer, serve
from tests.helpers.offline import import_csvs, offline_settings, serve_offline

TODAY = date(2026, 12, 2)  # bitcoin.csv ends 2024-12-31: 701 days earlier


@pytest.fixture
def offline(daily_dir: Path, tmp_path: Path) -> Iterator[LiveServer]:
    with serve_offline(daily_dir, tmp_path / "data", TODAY) as server:
        yield server


def test_the_coin_list_holds_the_imported_coins_and_says_it_is_offline(
    offline: LiveServer,
) -> None:
    with offline.client() as c:
        r = c.get("/coins")
    assert r.status_code == 200, r.text
    body = r.json()
    coins = {x["id"]: x for x in body["coins"]}
    assert set(coins) == {"bitcoin", "tether"}
    assert body["top_list_fresh"] is False
    assert "CoinGecko could not be reached" in body["notice"]
    assert "2 coin(s) stored here" in body["notice"]
    btc = coins["bitcoin"]
    assert btc["stored"] is True and btc["last_date"] == "2024-12-31"
    assert btc["last_price"] == pytest.approx(92627.28213113277)
    assert btc["stablecoin"] is False and coins["tether"]["stablecoin"] is True
    assert coins["tether"]["last_date"] == "2025-11-20"


def test_history_reports_its_age_and_unknown_coins_are_a_404_not_a_503(
    offline: LiveServer,
) -> None:
    with offline.client() as c:
        h = c.get("/coins/bitcoin/history", params={"start": "2024-01-01", "end": "2024-06-30"})
        missing = c.get("/coins/ethereum/history")
        refresh = c.post("/coins/bitcoin/refresh")
    assert h.status_code == 200, h.text
    body = h.json()
    assert body["dates"][-1] == "2024-06-30"  # the window asked for
    assert body["last_date"] == "2024-12-31"  # the store's last day, whatever the window
    assert body["age_days"] == 701 and body["stale"] is True
    assert body["notice"] == "Data ends 2024-12-31, 701 days ago; forecasts start from there."
    assert missing.status_code == 404, missing.text
    err = missing.json()["error"]
    assert err["type"] == "NotStoredError"
    assert "coincast data import FILE --coin ethereum" in err["message"]
    assert refresh.status_code == 503  # an explicit refresh is an upstream failure
    assert refresh.json()["error"]["type"] == "SourceUnreachableError"


def test_fresh_data_is_not_flagged(offline: LiveServer) -> None:
    offline.app.state.today = lambda: date(2025, 1, 2)
    with offline.client() as c:
        body = c.get("/coins/bitcoin/history").json()
    assert (body["age_days"], body["stale"], body["notice"]) == (2, False, None)


@pytest.mark.usefixtures("one_thread")
def test_a_forecast_says_how_old_its_starting_data_is(offline: LiveServer) -> None:
    from coincast.api import Forecaster, load_history, save

    history = load_history("bitcoin", offline.settings).iloc[-200:]
    fc = Forecaster("paper", epochs=1, window=10, units=(4,))
    fc.fit(history, coin="bitcoin")
    save(fc, offline.app.state.services.registry, "local", "btc")
    with offline.client() as c:
        r = c.post("/users/local/models/btc/versions/latest/forecast", json={"days": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data_ends"] == "2024-12-31" and body["dates"][0] == "2025-01-01"
    assert (body["age_days"], body["stale"]) == (701, True)
    assert body["notice"].startswith("Data ends 2024-12-31, 701 days ago")


def test_online_the_top_list_is_merged_with_every_stored_coin(
    fake_coingecko: Any, daily_dir: Path, tmp_path: Path
) -> None:
    settings = fake_coingecko.settings(tmp_path / "data", max_retries=1, backoff_max=0.1)
    import_csvs(settings, daily_dir, "bitcoin", "cosmos")
    with serve(settings) as server, server.client() as c:
        body = c.get("/coins", params={"limit": 3}).json()
    coins = {x["id"]: x for x in body["coins"]}
    assert body["top_list_fresh"] is True and body["notice"] is None
    assert [x["volume_rank"] for x in body["coins"][:3]] == [1, 2, 3]
    assert "cosmos" in coins and list(coins)[-1] == "cosmos"  # stored, beyond the limit
    assert coins["cosmos"]["stored"] is True and coins["cosmos"]["name"] == "Cosmos Hub"
    assert coins["bitcoin"]["stored"] is True and coins["bitcoin"]["last_date"] == "2024-12-31"
    top_only = [x for x in body["coins"][:3] if x["id"] != "bitcoin"]
    assert top_only and all(x["stored"] is False and x["last_date"] is None for x in top_only)
    assert coins["tether"]["stablecoin"] is True  # from its market row (nothing stored)


@pytest.fixture
def silent_port() -> Iterator[tuple[int, list[int]]]:
    """A loopback port that accepts connections and never answers (a network that drops
    replies), with the count of connections made to it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    accepted: list[int] = []
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            held.append(conn)
            accepted.append(1)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1], accepted
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_an_offline_page_is_answered_from_the_store_without_the_retry_budget(
    daily_dir: Path, tmp_path: Path, silent_port: tuple[int, list[int]]
) -> None:
    """With the default five retries and waits of up to 90 s, each listing once waited about
    a minute for an unreachable CoinGecko: implicit fetches try twice at most, and not again
    for a minute after a failure."""
    port, accepted = silent_port
    url = f"http://127.0.0.1:{port}/api/v3"
    settings = offline_settings(tmp_path / "data").model_copy(
        update={"coingecko_url": url, "max_retries": 5, "backoff_max": 90.0, "http_timeout": 0.3}
    )
    import_csvs(settings, daily_dir, "bitcoin")
    with serve(settings) as server, server.client() as c:
        first = c.get("/coins")
        tried = len(accepted)
        again = c.get("/coins")
        unknown = c.get("/coins/litecoin/history")
    assert first.status_code == again.status_code == 200
    assert [x["id"] for x in again.json()["coins"]] == ["bitcoin"]
    assert again.json()["top_list_fresh"] is False
    assert 1 <= tried <= 2  # one try and one retry, not six
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["error"]["type"] == "NotStoredError"
    assert len(accepted) == tried  # nothing asked again within the minute


def test_the_start_up_probe_marks_coingecko_unreachable_for_the_page(tmp_path: Path) -> None:
    """`coincast serve` probes CoinGecko once at start; when that fails the first coin list
    must not spend its own retries (they waited on the rate limiter: ~12 s offline)."""
    from types import SimpleNamespace

    from coincast.cli.server import _warm_coin_list

    state = SimpleNamespace()
    _warm_coin_list(offline_settings(tmp_path / "data"), state)
    assert state.coingecko_down_until > time.monotonic()
