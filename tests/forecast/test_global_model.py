"""The global cross-coin model: it uses a shared driver per-coin models cannot see, makes
no claim on a random-walk panel, and its TF.js files forecast exactly as it does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coincast.data.csv_import import read_history_csv
from coincast.errors import DataError, ModelFormatError, ParameterError
from coincast.forecast.alignment import leads
from coincast.forecast.forecaster import Forecaster
from coincast.forecast.global_model import GlobalForecaster
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry

SMALL = {"window": 10, "units": (8,), "epochs": 12, "batch_size": 64, "intervals": "split"}
N, TEST = 700, 150


def make_panel(beta: float, seed: int, coins: int = 2) -> dict[str, pd.DataFrame]:
    """Bitcoin is the driver; every other coin's return is beta × its return yesterday plus
    its own noise (beta 0: every coin is an independent random walk)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2021-01-01", periods=N, freq="D", name="date")
    driver = rng.normal(0.0, 0.03, N)
    returns = {"bitcoin": driver}
    for k in range(coins):
        r = rng.normal(0.0, 0.02, N)
        r[1:] += beta * driver[:-1]
        returns[f"coin{k}"] = r
    out = {}
    for coin, r in returns.items():
        price = 100.0 * np.exp(np.cumsum(r))
        volume = 1e6 * np.exp(rng.normal(0.0, 0.1, N))
        out[coin] = pd.DataFrame(
            {"price": price, "volume": volume, "market_cap": price * 1e6}, index=dates
        )
    return out


def test_bitcoin_must_be_in_the_panel() -> None:
    panel = make_panel(0.0, 1)
    panel["other"] = panel.pop("bitcoin")
    with pytest.raises(ParameterError, match="bitcoin"):
        GlobalForecaster(**SMALL).fit(panel)


def test_unknown_setting_names_the_known_ones() -> None:
    with pytest.raises(ParameterError, match="window"):
        GlobalForecaster(windw=3)


@pytest.mark.slow
def test_beats_per_coin_models_with_a_shared_driver() -> None:
    panel = make_panel(0.6, 0)
    start = panel["bitcoin"].index[-TEST]
    g = GlobalForecaster(**SMALL).fit(panel, test_start=start)
    for coin in ("coin0", "coin1"):
        per_coin = Forecaster("shrunk", window=10, units=(8,), epochs=12, intervals="split")
        ev = per_coin.fit(panel[coin], test_start=start).evaluation
        assert ev is not None
        mae_global = g.evaluations[coin].metric("model", 1, "mae")
        mae_local = ev.metric("model", 1, "mae")
        assert mae_global < 0.95 * mae_local, (coin, mae_global, mae_local)
        assert mae_global < 0.95 * g.evaluations[coin].metric("naive", 1, "mae")
    dm, (acc, p, _) = g.pooled()
    assert dm.better == "model" and p < 0.05 and acc > 0.55
    cover = [g.evaluations[c].coverage[0] for c in ("coin0", "coin1")]
    assert all(0.8 <= c <= 0.98 for c in cover), cover


@pytest.mark.slow
def test_random_walk_panel_gets_no_claim_and_round_trips(settings: Settings) -> None:
    panel = make_panel(0.0, 3)
    g = GlobalForecaster(**SMALL).fit(panel, test_start=panel["bitcoin"].index[-TEST])
    dm, (_, p, sentence) = g.pooled()
    assert dm.better == "neither" or dm.p_value > 0.05
    assert p > 0.05 and ("no better" in sentence or "No direction" in sentence)

    registry = ModelRegistry(settings)
    registry.save("alice", "global", *g.export())
    stored = registry.get("alice", "global")
    loaded = GlobalForecaster.from_tfjs(stored.model_json, stored.weights)
    for coin in panel:
        a, b = g.forecast(coin, 7), loaded.forecast(coin, 7)
        pd.testing.assert_series_equal(a["date"], b["date"])
        for col in ("forecast", "lower", "upper", "naive"):
            np.testing.assert_allclose(a[col], b[col], rtol=1e-6)
        assert (a["lower"] < a["forecast"]).all() and (a["forecast"] < a["upper"]).all()
    newer = loaded.forecast("coin0", 3, histories=panel)
    np.testing.assert_allclose(newer["forecast"], g.forecast("coin0", 3)["forecast"], rtol=1e-6)
    with pytest.raises(ParameterError, match="not in this global model"):
        loaded.forecast("ethereum")
    short = {c: f.iloc[:5] for c, f in panel.items()}
    with pytest.raises(DataError, match="consecutive days"):
        loaded.forecast("coin0", 3, histories=short)
    plain_json, plain_weights = (
        Forecaster("shrunk", window=10, units=(8,), epochs=1).fit(panel["coin0"]).export()
    )
    with pytest.raises(ModelFormatError, match="not a coincast global model"):
        GlobalForecaster.from_tfjs(plain_json, plain_weights)


def with_market(seed: int, coins: int = 3) -> dict[str, pd.DataFrame]:
    """Coins that move with bitcoin on the same day (corr ≈ 0.7), as liquid coins do."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2021-01-01", periods=N, freq="D", name="date")
    driver = rng.normal(0.0, 0.03, N)
    out = {}
    for k, coin in enumerate(["bitcoin", *(f"coin{i}" for i in range(coins))]):
        r = driver if k == 0 else 0.7 * driver + rng.normal(0.0, 0.02, N)
        price = 100.0 * np.exp(np.cumsum(r))
        volume = 1e6 * np.exp(rng.normal(0.0, 0.1, N))
        out[coin] = pd.DataFrame(
            {"price": price, "volume": volume, "market_cap": price * 1e6}, index=dates
        )
    return out


def close_convention(frame: pd.DataFrame) -> pd.DataFrame:
    """The same days dated as CoinMarketCap/Yahoo date them: the close of D on row D, where
    CoinGecko's snapshot (bitcoin's convention) puts it on row D+1."""
    return frame.set_axis(frame.index - pd.Timedelta(days=1), axis=0)


def test_a_coin_one_day_ahead_of_bitcoin_is_refused() -> None:
    panel = with_market(5)
    panel["coin1"] = close_convention(panel["coin1"])
    with pytest.raises(DataError) as info:
        GlobalForecaster(**{**SMALL, "epochs": 1}).fit(panel)
    msg = str(info.value)
    assert msg.startswith("coin1: returns move with bitcoin's one day later"), msg
    assert "coin0" not in msg and "coin2" not in msg
    assert "coincast data import --close" in msg and 'convention="close"' in msg


def test_aligned_and_lagging_panels_are_accepted(tmp_path: Path) -> None:
    """Refusal is for the look-ahead direction only: the same coin re-read as the advice
    says (``convention="close"``) fits, and so does a coin following bitcoin a day later."""
    panel = with_market(5)
    shifted = close_convention(panel["coin1"])
    shifted.rename_axis("date").to_csv(tmp_path / "coin1.csv")
    panel["coin1"] = read_history_csv(tmp_path / "coin1.csv", convention="close")
    stop = {c: len(f) - TEST for c, f in panel.items()}
    assert not any(lead.ahead for lead in leads(_returns(panel), tuple(panel), "bitcoin", stop))
    lagging = make_panel(0.6, 0)
    ahead = leads(_returns(lagging), tuple(lagging), "bitcoin", dict.fromkeys(lagging, N - TEST))
    assert [a.ahead for a in ahead] == [False, False]
    assert all(a.next_day < 0.15 for a in ahead)
    g = GlobalForecaster(**{**SMALL, "epochs": 1}).fit(
        panel, test_start=panel["bitcoin"].index[-TEST]
    )
    assert set(g.evaluations) == set(panel)


def _returns(panel: dict[str, pd.DataFrame]) -> np.ndarray:
    prices = pd.concat({c: f["price"] for c, f in panel.items()}, axis=1, sort=True)
    return np.log(prices).diff().to_numpy()
