"""The forecast endpoint's caches (``server.model_cache``) over real HTTP: a version saved
after a forecast is the next one served, a deleted one is not, cached answers equal a fresh
load's, and the LRU holds ``COINCAST_MODEL_CACHE`` versions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coincast.api import Forecaster, load_history, save
from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from tests.helpers.live_server import LiveServer, serve

pytestmark = pytest.mark.usefixtures("one_thread")

URL = "/users/local/models/{name}/versions/{version}/forecast"


def _fit(history: pd.DataFrame, seed: int) -> Forecaster:
    fc = Forecaster("shrunk", epochs=2, window=10, units=(8,), seed=seed, shrink=False)
    return fc.fit(history, coin="bitcoin")


@pytest.fixture
def bitcoin(settings: Settings, daily_dir: Path) -> pd.DataFrame:
    """bitcoin up to 2024-06-30 in the store; the models here are fitted on it."""
    history = read_history_csv(daily_dir / "bitcoin.csv").loc["2023-01-01":"2024-06-30"]
    MarketCache(settings).upsert_history("bitcoin", history, source="csv")
    return history


def _expected(fc: Forecaster, settings: Settings, days: int) -> list[float]:
    """What a fresh load of the stored files forecasts (no cache anywhere)."""
    assert fc.spec is not None
    fresh = Forecaster.from_tfjs(*fc.export())
    history = load_history("bitcoin", settings)
    frame = fresh.forecast(days, history=history.iloc[-(fc.spec.window + 60) :])
    return [float(v) for v in frame["forecast"]]


def test_a_version_saved_after_a_forecast_is_the_next_one_served(
    live_server: LiveServer, settings: Settings, bitcoin: pd.DataFrame
) -> None:
    registry = ModelRegistry(settings)
    first, second = _fit(bitcoin, 1), _fit(bitcoin, 2)
    save(first, registry, "local", "btc")
    with live_server.client() as c:
        r1 = c.post(URL.format(name="btc", version="latest"), json={"days": 5}).json()
        assert r1["version"] == 1
        assert r1["forecast"] == pytest.approx(_expected(first, settings, 5), rel=1e-12)
        # saved behind the server's back (as `coincast train --save` would)
        save(second, registry, "local", "btc")
        r2 = c.post(URL.format(name="btc", version="latest"), json={"days": 5}).json()
        assert r2["version"] == 2
        assert r2["forecast"] == pytest.approx(_expected(second, settings, 5), rel=1e-12)
        assert not np.allclose(r1["forecast"], r2["forecast"], rtol=1e-9)
        # the old version is still served by number, and stops being served once deleted
        again = c.post(URL.format(name="btc", version=1), json={"days": 5}).json()
        assert again["forecast"] == r1["forecast"]
        registry.delete_version("local", "btc", 2)
        gone = c.post(URL.format(name="btc", version=2), json={"days": 5})
        assert gone.status_code == 404
        r3 = c.post(URL.format(name="btc", version="latest"), json={"days": 5}).json()
        assert r3["version"] == 1 and r3["forecast"] == r1["forecast"]


def test_cached_forecasts_equal_uncached_ones_and_parse_once(
    live_server: LiveServer, settings: Settings, bitcoin: pd.DataFrame
) -> None:
    fc = _fit(bitcoin, 3)
    save(fc, ModelRegistry(settings), "local", "btc")
    url = URL.format(name="btc", version="latest")
    with live_server.client() as c:
        bodies = [c.post(url, json={"days": d}).json() for d in (7, 7, 3, 7)]
        ledger = c.get("/ledger", params={"coin": "bitcoin"}).json()
    want = _expected(fc, settings, 7)
    for body in (bodies[0], bodies[1], bodies[3]):
        assert body["forecast"] == pytest.approx(want, rel=1e-12)
        assert body["lower"] == bodies[0]["lower"] and body["upper"] == bodies[0]["upper"]
    # a shorter horizon batches fewer windows per step: equal to summation order only
    assert bodies[2]["forecast"] == pytest.approx(want[:3], rel=1e-8)
    models, _histories = live_server.app.state.forecast_caches
    assert models.loads == 1
    # skipping repeated ledger writes loses nothing: one row per horizon, as before
    assert sorted(r["horizon"] for r in ledger["rows"]) == [1, 2, 3, 4, 5, 6, 7]


def test_the_cache_holds_as_many_versions_as_settings_say(
    settings: Settings, bitcoin: pd.DataFrame
) -> None:
    small = settings.model_copy(update={"model_cache": 1})
    registry = ModelRegistry(small)
    save(_fit(bitcoin, 4), registry, "local", "a")
    save(_fit(bitcoin, 5), registry, "local", "b")
    with serve(small) as server, server.client() as c:
        for name in ("a", "a", "b", "a"):
            assert c.post(URL.format(name=name, version=1), json={"days": 2}).status_code == 200
        models, _ = server.app.state.forecast_caches
        assert models.size == 1
        assert models.loads == 3  # a, b, a again (b pushed a out)


def test_model_cache_setting_is_validated() -> None:
    with pytest.raises(ValueError, match="model_cache"):
        Settings(_env_file=None, model_cache=0)  # type: ignore[call-arg]


def test_a_memoised_answer_follows_the_clock_and_the_version_asked(
    live_server: LiveServer, settings: Settings, bitcoin: pd.DataFrame
) -> None:
    """The JSON answer is kept per data day and per today: the staleness notice counts days."""
    save(_fit(bitcoin, 6), ModelRegistry(settings), "local", "btc")
    with live_server.client() as c:
        live_server.app.state.today = lambda: date(2024, 7, 2)
        one = c.post(URL.format(name="btc", version="latest"), json={"days": 3}).json()
        live_server.app.state.today = lambda: date(2024, 7, 12)
        later = c.post(URL.format(name="btc", version="1"), json={"days": 3}).json()
    assert one["data_ends"] == later["data_ends"] == "2024-06-30"
    assert (one["age_days"], one["stale"]) == (2, False)
    assert (later["age_days"], later["stale"]) == (12, True)
    assert "2024-06-30" in later["notice"]
    assert later["forecast"] == one["forecast"] and later["version"] == one["version"] == 1
