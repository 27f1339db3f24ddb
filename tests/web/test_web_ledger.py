"""The page shows a model's track record beside its forecast (real server, Chromium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from coincast.api import Forecaster, save
from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.ledger.records import Ledger
from coincast.ledger.scoring import score_known
from coincast.store.registry import ModelRegistry
from tests.web.conftest import serve

pytestmark = pytest.mark.usefixtures("one_thread")
_RED_PIXELS = """(selector) => {
  const canvas = document.querySelector(selector + ' canvas');
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (Math.abs(px[i] - 0xdc) < 40 && Math.abs(px[i + 1] - 0x26) < 40
        && Math.abs(px[i + 2] - 0x26) < 40 && px[i + 3] > 200) n++;
  }
  return n;
}"""


@pytest.fixture
def site_with_ledger(fake_coingecko: Any, tmp_path: Path, daily_dir: Path) -> Any:
    settings = fake_coingecko.settings(tmp_path / "data", max_retries=1, backoff_max=0.2)
    history = read_history_csv(daily_dir / "bitcoin.csv").loc["2023-01-01":"2024-12-31"]
    MarketCache(settings).upsert_history("bitcoin", history, source="csv")
    fc = Forecaster("shrunk", epochs=2, window=10, units=(8,))
    fc.fit(history, coin="bitcoin")
    save(fc, ModelRegistry(settings), "local", "btc")
    ledger = Ledger(settings)
    for origin in pd.date_range("2024-12-01", "2024-12-20"):
        last = float(history.loc[origin, "price"])
        days = pd.date_range(origin + pd.Timedelta(days=1), periods=3)
        frame = pd.DataFrame({"date": days, "forecast": last * 1.01, "lower": last * 0.95,
                              "upper": last * 1.05, "naive": last})  # fmt: skip
        ledger.record("local", "bitcoin", "btc", "1", frame, "api")
    assert score_known(ledger) == 60
    return settings


def test_forecast_shows_the_models_track_record(page: Any, site_with_ledger: Any) -> None:
    with serve(site_with_ledger) as url:
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='true']")
        page.locator("#library-table tr[data-model='btc'] button.load").click()
        page.wait_for_selector("#forecast[data-state='ready']")
        page.wait_for_selector("#ledger[data-state='ready']")
        box = page.locator("#ledger")
        assert box.get_attribute("data-rows") == str(60 + 7)  # the new forecast is kept too
        assert box.get_attribute("data-scored") == "60"
        assert box.get_attribute("data-points") == "20"  # 1-day forecasts with an outcome
        assert "Track record of btc on bitcoin" in box.inner_text()
        score = page.locator("#ledger-score tbody tr")
        assert score.count() == 3
        assert score.nth(2).inner_text().split("\t")[:2] == ["all", "60"]
        assert page.evaluate(_RED_PIXELS, "#ledger-chart") > 30
        assert not page.console_errors, page.console_errors
