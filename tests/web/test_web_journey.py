"""A new user's whole journey offline, and a reload in the middle of server training.

No fake CoinGecko here: the server's CoinGecko is a closed loopback port, and the data
comes from ``coincast data import`` of two of the shared CSVs (through the real CLI).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from coincast.cli import app
from coincast.data.market.cache import MarketCache
from tests.helpers.live_server import LiveServer, serve
from tests.helpers.offline import offline_settings

pytestmark = pytest.mark.usefixtures("one_thread")

TODAY = date(2026, 12, 2)  # bitcoin.csv ends 2024-12-31: 701 days earlier
NOTICE = "Data ends 2024-12-31, 701 days ago; forecasts start from there."
COINS = ("bitcoin", "ethereum")


def _cli_import(data_dir: Path, coingecko_url: str, daily_dir: Path, coin: str) -> None:
    env = {
        "COINCAST_DATA_DIR": str(data_dir),
        "COINCAST_COINGECKO_URL": coingecko_url,
        "COLUMNS": "200",
    }
    csv = daily_dir / f"{coin}.csv"
    res = CliRunner().invoke(app, ["data", "import", str(csv), "--coin", coin], env=env)
    assert res.exit_code == 0, res.output
    assert f"{coin}: imported" in res.output


@pytest.fixture
def imported_site(daily_dir: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """`coincast data import` of bitcoin and ethereum, then a server with no CoinGecko."""
    settings = offline_settings(tmp_path / "data")
    for coin in COINS:
        _cli_import(settings.data_dir, settings.coingecko_url, daily_dir, coin)
    assert sorted(s.coin_id for s in MarketCache(settings).summaries()) == sorted(COINS)
    with serve(settings) as server:
        server.app.state.today = lambda: TODAY
        yield server


# Zooms the history chart to its last N days; the x axis labels once redrawn.
_ZOOM_TO_LAST_DAYS = """async (n) => {
  const u = window.coincast.state.charts.history;
  const xs = u.data[0];
  u.setScale('x', { min: xs[xs.length - n], max: xs[xs.length - 1] });
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return u.axes[0]._values;
}"""


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='true']")


def _pick(page: Any, coin: str) -> None:
    page.click(f"#coin-table tr[data-coin='{coin}']")
    page.wait_for_selector("#history[data-state='ready']")


def _tiny_params(page: Any, epochs: int) -> None:
    """Seconds of training on the server: a few epochs of a 4-unit LSTM on 10-day windows."""
    page.select_option("#preset", "paper")
    page.fill("#hp-epochs", str(epochs))
    page.fill("#hp-window", "10")
    page.fill("#hp-units", "4")
    page.fill("#hp-patience", "0")  # off: every epoch runs, so the run's length is known


@pytest.mark.slow
def test_import_pick_chart_stale_train_forecast_offline(
    page: Any, imported_site: LiveServer, screenshot: Any
) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    _open(page, imported_site.url + "/")
    # Local single-user mode: no token box, no Sign in button.
    assert page.locator("#who").inner_text().startswith("Local mode")
    assert page.locator("#token").is_hidden() and page.locator("#signin-submit").is_hidden()

    rows = page.locator("#coin-table tbody tr")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.coin)")) == sorted(COINS)
    assert "CoinGecko could not be reached" in page.locator("#coin-notice").inner_text()
    wrap = page.evaluate(
        "() => { const w = document.querySelector('#coins .table-wrap');"
        " return [w.scrollWidth, w.clientWidth]; }"
    )
    assert wrap[0] <= wrap[1], wrap  # the 24 h volume column is not cut off at 1280 px
    assert page.locator("#coin-table thead th").last.is_visible()

    _pick(page, "bitcoin")
    with imported_site.client() as client:
        n_days = len(client.get("/coins/bitcoin/history").json()["dates"])
    assert page.locator("#history").get_attribute("data-points") == str(n_days)
    notice = page.locator("#history-notice")
    assert notice.is_visible() and NOTICE in notice.inner_text()

    # Hover over the chart: the legend's date has no time of day.
    plot = page.locator("#history-chart .u-over")
    box = plot.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    hovered = page.locator("#history-chart .u-legend .u-series .u-value").first.inner_text()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", hovered), hovered  # no "12:00am"
    # Zoomed in to the last 4 days, the x axis still labels days, not hours.
    days = page.evaluate(_ZOOM_TO_LAST_DAYS, 4)
    assert days == ["Dec 28", "Dec 29", "Dec 30", "Dec 31"], days
    # The log axis: a few readable price ticks, not bands of gridlines at every 1…9 × 10ⁿ.
    page.check("#log-scale")
    ticks = page.evaluate("() => window.coincast.state.charts.history.axes[1]._values")
    assert 3 <= len(ticks) <= 10, ticks
    assert len(set(ticks)) == len(ticks), ticks
    screenshot(page, "journey-history")
    page.uncheck("#log-scale")

    _tiny_params(page, epochs=2)
    page.click("#train-start")
    page.wait_for_selector(
        "#progress[data-state='done'], #progress[data-state='failed']", timeout=120_000
    )
    assert page.locator("#progress").get_attribute("data-state") == "done", page.locator(
        "#banner-text"
    ).inner_text()
    assert "saved as bitcoin-paper v1" in page.locator("#progress-text").inner_text()
    # The loss axis reads as decimals: no "5e-3" or "0e+0".
    loss_ticks = page.evaluate("() => window.coincast.state.charts.loss.axes[1]._values")
    assert loss_ticks and not [t for t in loss_ticks if "e" in t], loss_ticks
    page.wait_for_selector("#library-table tr[data-model='bitcoin-paper'][data-version='1']")

    page.click("#forecast-run")
    page.wait_for_selector("#forecast[data-state='ready']")
    assert page.locator("#forecast-table tbody tr").count() == 7
    assert page.locator("#forecast").get_attribute("data-points") == "8"
    first_day = page.locator("#forecast-table tbody tr").first.inner_text()
    assert "2025-01-01" in first_day, first_day  # the day after the data ends
    assert NOTICE in page.locator("#forecast-notice").inner_text()
    screenshot(page, "journey-forecast")
    assert not page.console_errors, page.console_errors


@pytest.mark.slow
def test_reload_mid_training_reattaches_and_lists_the_model(
    page: Any, imported_site: LiveServer, screenshot: Any
) -> None:
    _open(page, imported_site.url + "/")
    _pick(page, "ethereum")
    _tiny_params(page, epochs=8)
    page.click("#train-start")
    page.wait_for_function(
        "() => (window.coincast.state.charts.loss?.data[0].length || 0) >= 1", timeout=120_000
    )

    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    job = page.locator("#jobs .progress-box[data-model='ethereum-paper']")
    assert job.count() == 1
    assert job.is_visible()
    assert "reattached" in job.locator(".job-title").inner_text()
    with imported_site.client() as client:
        (listed,) = client.get("/users/local/jobs").json()["jobs"]
    assert job.get_attribute("data-job") == listed["id"]
    # The reattached box follows the job: its bar moves and its loss curve is replayed.
    job.locator(".bar span").filter(has_text="%").wait_for()
    page.wait_for_function(
        "() => { const b = document.querySelector('#jobs .progress-box .bar');"
        " return Number(b.getAttribute('aria-valuenow')) > 0; }",
        timeout=60_000,
    )
    screenshot(page, "journey-reattached")

    page.wait_for_selector("#jobs .progress-box[data-finished='true']", timeout=120_000)
    assert job.get_attribute("data-state") == "done", job.inner_text()
    assert job.locator(".bar").get_attribute("aria-valuenow") == "100"
    assert "saved as ethereum-paper v1" in job.inner_text()
    assert job.locator(".job-cancel").is_hidden()
    # The library refreshed by itself when the job ended.
    page.wait_for_selector("#library-table tr[data-model='ethereum-paper'][data-version='1']")
    assert page.locator("#forecast").get_attribute("data-model") == "ethereum-paper@1"
    assert page.locator("#forecast-run").is_enabled()
    assert not page.console_errors, page.console_errors


# Whether leaving the page now would be stopped: a cancelable beforeunload the page's
# handler calls preventDefault on (what makes the browser ask "Leave site?").
_LEAVING_ASKS = """() => {
  const ev = new Event('beforeunload', { cancelable: true });
  window.dispatchEvent(ev);
  return ev.defaultPrevented;
}"""


def test_leaving_during_browser_training_asks_first(page: Any, imported_site: LiveServer) -> None:
    _open(page, imported_site.url + "/")
    _pick(page, "ethereum")
    assert page.evaluate(_LEAVING_ASKS) is False  # nothing to lose yet
    page.check("input[name='where'][value='browser']")
    page.fill("#hp-epochs", "500")
    page.fill("#hp-window", "10")
    page.fill("#hp-units", "4")
    page.click("#train-start")
    page.wait_for_function(
        "() => (window.coincast.state.charts.loss?.data[0].length || 0) >= 1", timeout=120_000
    )
    assert page.evaluate(_LEAVING_ASKS) is True
    # A real close asks too; dismissing the dialog keeps the page and its training.
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.close(run_before_unload=True)
    page.wait_for_function("() => true")  # the page is still there to answer
    assert asked == ["beforeunload"]
    assert page.locator("#train").get_attribute("data-state") == "running"

    page.click("#train-cancel")
    page.wait_for_selector("#progress[data-state='cancelled']", timeout=60_000)
    assert page.evaluate(_LEAVING_ASKS) is False  # the handler went with the run


def test_volume_column_fits_at_1280_px_with_the_top_100(page: Any, coincast_site: str) -> None:
    """The widest list (100 coins, long names, sub-cent prices) still shows its last column."""
    page.set_viewport_size({"width": 1280, "height": 900})
    _open(page, coincast_site + "/")
    assert page.locator("#coin-table tbody tr").count() == 100
    fit = page.evaluate(
        """() => {
          const wrap = document.querySelector('#coins .table-wrap');
          const last = document.querySelector('#coin-table thead th:last-child');
          return [wrap.scrollWidth, wrap.clientWidth,
                  last.getBoundingClientRect().right, wrap.getBoundingClientRect().right];
        }"""
    )
    assert fit[0] <= fit[1] and fit[2] <= fit[3] + 0.5, fit
    assert page.locator("#coin-table thead th:last-child").inner_text() == "24 h volume"


def test_sign_in_box_only_when_the_server_needs_tokens(page: Any, tmp_path: Path) -> None:
    from coincast.server.users import UserStore

    settings = offline_settings(tmp_path / "data")
    UserStore(settings).add("alice")
    with serve(settings) as server:
        _open(page, server.url + "/")
        assert page.locator("#token").is_visible()
        assert page.locator("#signin-submit").is_visible()
        assert page.locator("#signout").is_hidden()
