"""The page against the real server (uvicorn) and the loopback CoinGecko: what a person does."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

# Pixels of a canvas whose colour is close to rgb (tolerance 40 per channel): proof that a
# series was drawn, not only that a <canvas> exists.
_COLOURED_PIXELS = """([selector, r, g, b]) => {
  const canvas = document.querySelector(selector + ' canvas');
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (Math.abs(px[i] - r) < 40 && Math.abs(px[i + 1] - g) < 40 && Math.abs(px[i + 2] - b) < 40
        && px[i + 3] > 200) n++;
  }
  return n;
}"""
PRICE_BLUE = (0x25, 0x63, 0xEB)
FORECAST_RED = (0xDC, 0x26, 0x26)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='true']")


def _wait_trained(page: Any) -> None:
    """Wait for the end of training; a failure fails the test with the page's message."""
    page.wait_for_selector(
        "#progress[data-state='done'], #progress[data-state='failed']", timeout=120_000
    )
    state = page.locator("#progress").get_attribute("data-state")
    assert state == "done", page.locator("#banner-text").inner_text()


def _pick(page: Any, coin: str) -> None:
    page.fill("#coin-search", coin)
    page.click(f"#coin-table tr[data-coin='{coin}']")
    page.wait_for_selector("#history[data-state='ready']")


@pytest.mark.slow
def test_pick_coin_train_on_server_and_forecast(
    page: Any, coincast_site: str, screenshot: Any
) -> None:
    _open(page, coincast_site + "/")
    assert page.locator("#who").inner_text().startswith("Local mode")
    assert page.locator("#coin-table tbody tr").count() == 100
    page.fill("#coin-search", "bitc")
    assert page.locator("#coin-table tbody tr").count() >= 1

    _pick(page, "bitcoin")
    expected = _get(f"{coincast_site}/api/v1/coins/bitcoin/history")
    n_days = len(expected["dates"])
    assert n_days > 300
    drawn = page.evaluate("() => window.coincast.state.charts.history.data[1].length")
    assert drawn == n_days
    assert page.locator("#history").get_attribute("data-points") == str(n_days)
    assert page.evaluate(_COLOURED_PIXELS, ["#history-chart", *PRICE_BLUE]) > 200
    page.check("#log-scale")
    assert page.evaluate("() => window.coincast.state.charts.history.scales.y.distr") == 3
    page.uncheck("#log-scale")
    screenshot(page, "history")

    page.select_option("#preset", "paper")
    page.fill("#hp-epochs", "3")
    page.click("#train-start")
    _wait_trained(page)
    assert page.locator("#progress-label").inner_text() == "100 %"
    assert "saved as bitcoin-paper v1" in page.locator("#progress-text").inner_text()
    # One loss point per epoch reached the live curve.
    assert page.evaluate("() => window.coincast.state.charts.loss.data[0]") == [1, 2, 3]
    screenshot(page, "training")
    page.wait_for_selector("#library-table tr[data-model='bitcoin-paper'][data-version='1']")

    page.fill("#forecast-days", "7")
    page.click("#forecast-run")
    page.wait_for_selector("#forecast[data-state='ready']")
    assert page.locator("#forecast-table tbody tr").count() == 7
    # 7 forecast days joined to the last known price.
    assert page.locator("#forecast").get_attribute("data-points") == "8"
    assert page.evaluate(_COLOURED_PIXELS, ["#forecast-chart", *FORECAST_RED]) > 30
    assert "naive" in page.locator("#forecast-skill").inner_text().lower()
    assert "risk forecast" in page.locator("#forecast-risk").inner_text()
    assert "Data provided by CoinGecko" in page.locator(".credit").inner_text()
    assert "not financial advice" in page.locator("#disclaimer").inner_text()
    screenshot(page, "forecast")
    ms = page.evaluate("() => window.coincast.state.timings")
    print(f"page ready {ms['pageReady']:.0f} ms; 7-day forecast {ms['forecast']:.0f} ms")
    assert not page.console_errors, page.console_errors


@pytest.mark.slow
def test_train_in_browser_then_forecast_from_library(
    page: Any, coincast_site: str, screenshot: Any
) -> None:
    _open(page, coincast_site + "/")
    _pick(page, "ethereum")
    page.check("input[name='where'][value='browser']")
    page.fill("#hp-epochs", "2")
    page.dispatch_event("#hp-epochs", "change")
    page.wait_for_selector("#train-estimate[data-seconds]", timeout=60_000)
    assert "Estimated time" in page.locator("#train-estimate").inner_text()
    assert "wasm backend" in page.locator("#train-estimate").inner_text()
    page.click("#train-start")
    _wait_trained(page)
    assert page.evaluate("() => window.coincast.state.charts.loss.data[0]") == [1, 2]

    # The library lists the version the browser uploaded through tf.io.http ...
    row = page.locator("#library-table tr[data-model='ethereum-paper'][data-version='1']")
    row.wait_for()
    assert "RMSE" in row.inner_text()
    meta = _get(f"{coincast_site}/api/v1/users/local/models/ethereum-paper/versions/1/model.json")[
        "userDefinedMetadata"
    ]
    assert meta["coin"] == "ethereum" and "browser" in meta["training"]["trained_in"]
    assert meta["training"]["epochs_run"] == 2
    screenshot(page, "browser-training")

    # ... and loading it from there forecasts on the server.
    page.evaluate("() => { window.coincast.state.model = null; }")
    row.locator("button.load").click()
    page.wait_for_selector("#forecast[data-state='ready'][data-model='ethereum-paper@1']")
    assert page.locator("#forecast").get_attribute("data-points") == "8"
    assert page.locator("#forecast-table tbody tr").count() == 7
    assert "browser" in page.locator("#forecast-skill").inner_text()
    screenshot(page, "library-forecast")
    assert not page.console_errors, page.console_errors


def test_errors_are_shown_in_the_page(
    page: Any, coincast_site: str, fake_coingecko: Any, screenshot: Any
) -> None:
    from tests.fakes.coingecko import Fault

    _open(page, coincast_site + "/")
    assert page.locator("#banner").is_hidden()

    # CoinGecko keeps answering 429: the person is told to wait, not shown a blank chart.
    fake_coingecko.inject("/coins/litecoin/market_chart*", [Fault.status(429, retry_after=0)] * 6)
    page.fill("#coin-search", "litecoin")
    page.click("#coin-table tr[data-coin='litecoin']")
    page.wait_for_selector("#history[data-state='error']")
    assert page.locator("#banner").get_attribute("data-type") == "RateLimitedError"
    assert "rate-limiting" in page.locator("#banner-title").inner_text()
    assert page.locator("#banner-text").inner_text().strip()
    assert "see the message above" in page.locator("#history-chart").inner_text()
    screenshot(page, "error-429")

    # An id CoinGecko does not know, typed into the search box.
    page.fill("#coin-search", "no-such-coin-xyz")
    page.press("#coin-search", "Enter")
    page.wait_for_selector("#banner[data-type='UnknownCoinError']")
    assert "Unknown coin" in page.locator("#banner-title").inner_text()
    assert "no-such-coin-xyz" in page.locator("#banner-text").inner_text()
    screenshot(page, "error-unknown-coin")

    # Training that cannot work (window longer than the history) fails visibly.
    page.fill("#coin-search", "bitcoin")
    page.click("#coin-table tr[data-coin='bitcoin']")
    page.wait_for_selector("#history[data-state='ready']")
    page.fill("#hp-window", "365")
    page.click("#train-start")
    page.wait_for_selector("#progress[data-state='failed']", timeout=60_000)
    assert page.locator("#banner").is_visible()
    assert page.locator("#banner-text").inner_text().strip()
    screenshot(page, "error-training")
    assert not [e for e in page.console_errors if "Uncaught" in e]


def test_sign_in_with_a_token(page: Any, fake_coingecko: Any, tmp_path: Any) -> None:
    """With a user configured, the page asks for a token and then acts as that user."""
    from coincast.server.users import UserStore
    from tests.web.conftest import serve

    settings = fake_coingecko.settings(tmp_path / "data")
    _user, token = UserStore(settings).add("alice")
    with serve(settings) as url:
        _open(page, url + "/")
        assert page.locator("#who").inner_text() == "Not signed in"
        assert page.locator("#banner").get_attribute("data-type") == "AuthError"
        assert "coincast users add" in page.locator("#banner-text").inner_text()
        page.fill("#token", "not-a-real-token")
        page.click("#signin button[type='submit']")
        page.wait_for_selector("#banner[data-type='AuthError']")
        assert page.locator("#who").inner_text() == "Not signed in"
        page.fill("#token", token)
        page.click("#signin button[type='submit']")
        page.wait_for_selector("#who[data-state='token']")
        assert page.locator("#who").inner_text() == "Signed in as alice"
        assert page.locator("#banner").is_hidden()
        page.wait_for_function(
            "() => document.querySelector('#library-status').textContent.includes('No models yet')"
        )
        # The token survives a reload (localStorage), so the person stays signed in.
        _open(page, url + "/")
        assert page.locator("#who").inner_text() == "Signed in as alice"


@pytest.mark.slow
def test_cancel_train_further_and_delete(page: Any, coincast_site: str) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    _open(page, coincast_site + "/")
    _pick(page, "cardano")
    page.select_option("#preset", "paper")
    # A long run, cancelled once the first epoch has been reported: nothing is saved.
    page.fill("#hp-epochs", "500")
    page.click("#train-start")
    page.wait_for_function("() => (window.coincast.state.charts.loss?.data[0].length || 0) >= 1")
    page.click("#train-cancel")
    page.wait_for_selector("#progress[data-state='cancelled']", timeout=60_000)
    assert _get(f"{coincast_site}/api/v1/users/local/models")["models"] == []

    page.fill("#hp-epochs", "2")
    page.click("#train-start")
    _wait_trained(page)
    v1 = page.locator("#library-table tr[data-model='cardano-paper'][data-version='1']")
    v1.wait_for()
    # Train v1 further on the server: v2 records its parent.
    v1.locator("button.further").click()
    assert "further" in page.locator("#train-start").inner_text()
    page.fill("#hp-epochs", "1")
    page.click("#train-start")
    _wait_trained(page)
    v2 = page.locator("#library-table tr[data-model='cardano-paper'][data-version='2']")
    v2.wait_for()
    assert "from v1" in v2.inner_text()
    versions = _get(f"{coincast_site}/api/v1/users/local/models/cardano-paper/versions")
    assert [v["parent_version"] for v in versions["versions"]] == [None, 1]

    v2.locator("button.delete").click()
    v2.wait_for(state="detached")
    versions = _get(f"{coincast_site}/api/v1/users/local/models/cardano-paper/versions")
    assert [v["version"] for v in versions["versions"]] == [1]
