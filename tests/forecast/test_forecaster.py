"""End-to-end Forecaster: fit, forecast, metadata round trip, learning and honesty tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import coincast
from coincast.api import Forecaster, backtest
from coincast.errors import ModelFormatError, ParameterError
from coincast.model.lstm import LSTMRegressor
from coincast.model.presets import DEFAULT_PRESET, PRESETS, get_preset
from tests.helpers.histories import random_walk, sine

FAST = {"units": (8,), "epochs": 3, "window": 10}


pytestmark = pytest.mark.usefixtures("one_thread")


def test_forecast_frame_shape_dates_and_bounds() -> None:
    h = random_walk(300)
    before = h.copy(deep=True)
    fc = Forecaster("paper", **FAST).fit(h)
    pd.testing.assert_frame_equal(h, before)  # input not mutated
    out = fc.forecast(days=7)
    assert list(out.columns) == ["date", "forecast", "lower", "upper", "naive"]
    assert len(out) == 7
    assert out["date"].iloc[0] == h.index[-1] + pd.Timedelta(days=1)
    assert (out["date"].diff().dropna() == pd.Timedelta(days=1)).all()
    assert (out["lower"] <= out["forecast"]).all() and (out["forecast"] <= out["upper"]).all()
    assert (out["naive"] == h["price"].iloc[-1]).all()
    assert (out["upper"] > out["lower"]).all() and (out["lower"] > 0).all()
    with pytest.raises(ParameterError):
        fc.forecast(days=0)


def test_metadata_is_json_and_rebuilds_the_same_forecaster() -> None:
    h = random_walk(300)
    fc = Forecaster("deep", units=(8, 4), epochs=3, window=10).fit(h, coin="walk")
    meta = json.loads(json.dumps(fc.metadata(), allow_nan=False))
    assert meta["coin"] == "walk" and meta["coincast_version"] == coincast.__version__
    assert meta["scaler"]["names"] == ["price", "volume", "log_return"]
    assert len(meta["intervals"]["quantiles"]) == 30
    assert meta["metrics"]["verdict"]
    assert fc.model is not None
    copy = LSTMRegressor(fc.model.config)
    copy.load_state_dict(fc.model.state_dict())
    again = Forecaster.from_model(copy, meta)
    pd.testing.assert_frame_equal(again.forecast(10), fc.forecast(10))
    # a newer history can be forecast with the stored model too
    newer = fc.forecast(3, history=h.iloc[:-5])
    assert newer["date"].iloc[0] == h.index[-5]
    bad = dict(meta, features=["price"])
    with pytest.raises(ModelFormatError):
        Forecaster.from_model(copy, bad)
    with pytest.raises(ModelFormatError):
        Forecaster.from_model(copy, {"format": "something else"})


def test_same_seed_same_forecast() -> None:
    h = random_walk(300)
    a = Forecaster("return", **FAST).fit(h).forecast(5)
    b = Forecaster("return", **FAST).fit(h).forecast(5)
    pd.testing.assert_frame_equal(a, b)


def test_shrink_weight_is_fitted_in_unit_interval_and_zero_means_naive() -> None:
    import dataclasses

    fc = Forecaster("shrunk", **FAST).fit(random_walk(400))
    assert fc.spec is not None and 0.0 <= fc.spec.shrink <= 1.0
    fc.spec = dataclasses.replace(fc.spec, shrink=0.0)
    out = fc.forecast(5)
    np.testing.assert_allclose(out["forecast"], out["naive"], rtol=1e-12)


def test_presets_and_overrides() -> None:
    paper = PRESETS["paper"]
    assert (paper.window, paper.features, paper.target, paper.units) == (
        30, ("price", "volume"), "level", (50,),
    )  # fmt: skip
    assert (paper.epochs, paper.batch_size, paper.lr, paper.patience) == (50, 32, 1e-3, None)
    deep = PRESETS["deep"]
    assert len(deep.units) >= 2 and deep.dropout > 0 and deep.patience and deep.lr_decay_patience
    assert get_preset().name == DEFAULT_PRESET
    assert get_preset("paper", epochs=3).epochs == 3
    with pytest.raises(ParameterError, match="unknown setting"):
        get_preset("paper", epoch=3)
    with pytest.raises(ParameterError, match="unknown preset"):
        Forecaster("nope")


def test_warm_start_continues_from_the_current_weights() -> None:
    h = random_walk(300)
    fc = Forecaster("paper", **FAST).fit(h)
    assert fc.model is not None
    first = {k: v.clone() for k, v in fc.model.state_dict().items()}
    fresh = Forecaster("paper", **FAST).fit(h)
    fc.fit(h, warm_start=True)
    assert fc.model is not None and fresh.model is not None
    w = "head.weight"
    assert not torch.equal(fc.model.state_dict()[w], first[w])
    assert not torch.equal(fc.model.state_dict()[w], fresh.model.state_dict()[w])


@pytest.mark.slow
def test_learns_a_sine_and_beats_naive_clearly() -> None:
    fc = Forecaster("paper", units=(16,), window=20, epochs=40).fit(sine())
    ev = fc.evaluation
    assert ev is not None
    assert ev.dm[0].better == "model", ev.verdict
    assert ev.metric("model", 1, "mae") < 0.5 * ev.metric("naive", 1, "mae")


@pytest.mark.slow
def test_random_walk_does_not_claim_to_beat_naive() -> None:
    h = random_walk(900)
    ev = backtest(h, preset="shrunk", units=(16,), epochs=15, window=20)
    assert ev.dm[0].better != "model", ev.verdict
    # shrinking keeps the default within a whisker of naive even on pure noise
    assert ev.metric("model", 1, "mae") <= 1.05 * ev.metric("naive", 1, "mae")
    # 90 % conformal intervals on an exchangeable series: coverage near nominal
    assert 0.8 <= ev.coverage[0] <= 0.98


def test_backtest_refit_every_k_days() -> None:
    h = random_walk(260)
    ev = backtest(h, preset="return", refit_every=13, horizon=3, **FAST)
    assert ev.n_origins == 25  # 10 % of the 249 target days, first origin the day before
    assert set(ev.table["method"]) == {"model", "naive", "drift"}
    assert ev.coverage and all(0.0 <= c <= 1.0 for c in ev.coverage)


def test_tfjs_export_round_trip_gives_the_same_forecast() -> None:
    from coincast.store.tfjs.read import from_tfjs
    from coincast.store.tfjs.write import to_tfjs

    fc = Forecaster("deep", units=(8, 4), epochs=2, window=10).fit(random_walk(300))
    assert fc.model is not None and fc.spec is not None
    doc, weights = to_tfjs(fc.model, fc.spec.window, fc.metadata())
    model, window, meta = from_tfjs(json.dumps(doc).encode(), weights)
    assert window == 10
    again = Forecaster.from_model(model, meta)
    a, b = fc.forecast(7), again.forecast(7)
    np.testing.assert_allclose(b["forecast"], a["forecast"], rtol=1e-5)
    np.testing.assert_allclose(b["upper"], a["upper"], rtol=1e-5)
    assert again.metadata()["metrics"] == meta["metrics"]


def test_cancelled_fit_keeps_a_usable_model_and_says_so() -> None:
    from coincast.model.schedule import CancelToken, EpochReport

    token = CancelToken()

    def stop_after_first(report: EpochReport) -> None:
        token.cancel()

    fc = Forecaster("paper", units=(8,), epochs=20, window=10)
    fc.fit(random_walk(300), on_epoch=stop_after_first, cancel=token)
    meta = fc.metadata()
    assert meta["training"]["cancelled"] is True
    assert meta["training"]["epochs_run"] == 1
    assert np.isfinite(fc.forecast(3)["forecast"]).all()


@pytest.mark.slow
def test_default_preset_is_not_worse_than_naive_on_bitcoin(daily_dir: Path) -> None:
    """The default's promise on real data: within a whisker of naive, never clearly worse."""
    h = pd.read_csv(daily_dir / "bitcoin.csv", index_col="date", parse_dates=True)
    h = h.loc["2018-01-01":"2024-12-31"]
    fc = Forecaster(DEFAULT_PRESET).fit(h, test_start="2024-01-01", coin="bitcoin")
    ev = fc.evaluation
    assert ev is not None and fc.spec is not None
    assert 0.0 <= fc.spec.shrink <= 1.0
    assert ev.dm[0].better != "naive", ev.verdict
    assert ev.metric("model", 1, "mae") <= 1.01 * ev.metric("naive", 1, "mae")
    assert ev.metric("model", 7, "mae") <= 1.03 * ev.metric("naive", 7, "mae")
