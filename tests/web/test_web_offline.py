"""The page with CoinGecko unreachable and two coins imported from CSV (a new user offline).

Both coins are listed with the server's offline notice, the stablecoin is marked and can
be hidden, the chart of a pick says how old its data is, Refresh says clearly that
CoinGecko cannot be reached, and a stored model's forecast carries the same notice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.live_server import LiveServer
from tests.helpers.offline import serve_offline

TODAY = date(2026, 12, 2)  # bitcoin.csv ends 2024-12-31: 701 days earlier
NOTICE = "Data ends 2024-12-31, 701 days ago; forecasts start from there."


@pytest.fixture
def offline_site(daily_dir: Path, tmp_path: Path) -> Iterator[LiveServer]:
    with serve_offline(daily_dir, tmp_path / "data", TODAY) as server:
        yield server


def _save_small_model(server: LiveServer) -> None:
    """A real (one-epoch) bitcoin model in the library, so the forecast needs no training."""
    from coincast.api import Forecaster, load_history, save

    history = load_history("bitcoin", server.settings).iloc[-200:]
    fc = Forecaster("paper", epochs=1, window=10, units=(4,))
    fc.fit(history, coin="bitcoin")
    save(fc, server.app.state.services.registry, "local", "btc-small")


@pytest.mark.usefixtures("one_thread")
def test_offline_imported_coins_listed_picked_and_flagged_stale(
    page: Any, offline_site: LiveServer, screenshot: Any
) -> None:
    _save_small_model(offline_site)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(offline_site.url + "/")
    page.wait_for_selector("body[data-ready='true']")

    rows = page.locator("#coin-table tbody tr")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.coin)")) == ["bitcoin", "tether"]
    notice = page.locator("#coin-notice")
    assert notice.is_visible() and "CoinGecko could not be reached" in notice.inner_text()
    assert page.locator("#coin-status").inner_text() == "2 of 2 coins, stored here."
    assert page.locator("#coin-table tr[data-coin='tether'] .badge.stable").is_visible()
    assert page.locator("#coin-table tr[data-coin='bitcoin'] .badge.stable").count() == 0
    # The 24 h volume column fits its card at 1280 px: nothing to scroll sideways.
    wrap = page.evaluate(
        "() => { const w = document.querySelector('#coins .table-wrap');"
        " return [w.scrollWidth, w.clientWidth]; }"
    )
    assert wrap[0] <= wrap[1], wrap

    page.check("#hide-stable")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.coin)") == ["bitcoin"]
    assert "1 stablecoin hidden" in page.locator("#coin-status").inner_text()
    page.uncheck("#hide-stable")
    # "eth" is a prefix of no word of "Tether": the search finds nothing here.
    page.fill("#coin-search", "eth")
    assert rows.count() == 0
    page.fill("#coin-search", "BITC")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.coin)") == ["bitcoin"]

    page.click("#coin-table tr[data-coin='bitcoin']")
    page.wait_for_selector("#history[data-state='ready']")
    status = page.locator("#coin-status").inner_text()
    assert "“”" not in status and status == "1 of 2 coins, stored here.", status
    assert page.locator("#history").get_attribute("data-last-date") == "2024-12-31"
    stale = page.locator("#history-notice")
    assert stale.is_visible() and NOTICE in stale.inner_text()
    screenshot(page, "offline-stale")

    stale.locator("button.fresh-refresh").click()
    message = stale.locator(".fresh-message[data-state='error']")
    message.wait_for()
    assert "CoinGecko cannot be reached" in message.inner_text()
    assert "coincast data import FILE --coin bitcoin" in message.inner_text()

    page.click("#library-table tr[data-model='btc-small'] button.load")
    page.wait_for_selector("#forecast[data-state='ready']")
    forecast_notice = page.locator("#forecast-notice")
    assert forecast_notice.is_visible() and NOTICE in forecast_notice.inner_text()
    assert page.locator("#forecast-table tbody tr").first.inner_text().startswith("2025-01-01")
    screenshot(page, "offline-forecast-stale")
    assert not [e for e in page.console_errors if "Uncaught" in e or "TypeError" in e]


def test_search_matches_id_symbol_and_name_words(page: Any, offline_site: LiveServer) -> None:
    page.goto(offline_site.url + "/")
    page.wait_for_selector("body[data-ready='true']")
    found = page.evaluate(
        """async () => {
          const { matches } = await import('/coins.js');
          const eth = { id: 'ethereum', symbol: 'eth', name: 'Ethereum' };
          const usdt = { id: 'tether', symbol: 'usdt', name: 'Tether' };
          const usdc = { id: 'usd-coin', symbol: 'usdc', name: 'USD Coin' };
          return [matches(eth, 'eth'), matches(usdt, 'eth'), matches(usdc, 'coin'),
                  matches(usdt, 'usdt'), matches(usdc, ''), matches(eth, 'bit')];
        }"""
    )
    assert found == [True, False, True, True, True, False]


def test_the_top_list_fits_its_card_at_1280_px(page: Any, coincast_site: str) -> None:
    """The full top 100 (long names, stablecoin badges): the 24 h volume column is visible."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(coincast_site + "/")
    page.wait_for_selector("body[data-ready='true']")
    assert page.locator("#coin-table tbody tr").count() == 100
    assert page.locator("#coin-table .badge.stable").count() >= 2  # tether, usd-coin, …
    sizes = page.evaluate(
        "() => { const w = document.querySelector('#coins .table-wrap');"
        " const th = [...document.querySelectorAll('#coin-table thead th')].at(-1);"
        " return [w.scrollWidth, w.clientWidth, th.getBoundingClientRect().right,"
        " w.getBoundingClientRect().right]; }"
    )
    assert sizes[0] <= sizes[1], sizes
    assert sizes[2] <= sizes[3] + 0.5, sizes
