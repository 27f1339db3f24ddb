"""Metrics, baselines, Diebold–Mariano and conformal intervals on synthetic numbers."""

from __future__ import annotations

import numpy as np
import pytest

from coincast.forecast import baselines, metrics
from coincast.forecast.evaluate import diebold_mariano, score_paths
from coincast.forecast.intervals import (
    conformal_quantiles,
    coverage,
    extend_quantiles,
    interval_bounds,
)


def test_metrics_on_hand_computed_values() -> None:
    a = np.array([100.0, 200.0, 100.0])
    p = np.array([110.0, 180.0, np.nan])  # the NaN pair is ignored
    assert metrics.rmse(a, p) == pytest.approx(np.sqrt((100 + 400) / 2))
    assert metrics.mae(a, p) == pytest.approx(15.0)
    assert metrics.mape(a, p) == pytest.approx(10.0)
    assert metrics.smape(a, p) == pytest.approx(100 * (20 / 210 + 40 / 380) / 2)
    assert metrics.mase_scale([1.0, 3.0, 2.0]) == pytest.approx(1.5)
    assert metrics.mase(a, p, 1.5) == pytest.approx(10.0)
    base = np.array([105.0, 190.0, 100.0])
    # 105 → 110 called up but it fell to 100; 190 → 180 called down but it rose to 200
    assert metrics.directional_accuracy(a, p, base) == pytest.approx(0.0)
    assert metrics.directional_accuracy(a, np.array([100.0, 210.0, np.nan]), base) == 1.0
    assert np.isnan(metrics.directional_accuracy(a, base, base))  # naive has no direction


def test_baselines() -> None:
    price = np.arange(10, dtype=float) * 2 + 5  # +2 a day
    origins = np.array([4, 9])
    np.testing.assert_allclose(baselines.naive(price[origins], 3), [[13] * 3, [23] * 3])
    np.testing.assert_allclose(baselines.drift(price, origins, 3), [[15, 17, 19], [25, 27, 29]])


def test_dm_does_not_claim_significance_between_equal_forecasts() -> None:
    rng = np.random.default_rng(1)
    rejections = 0
    trials = 400
    for _ in range(trials):
        e1, e2 = rng.normal(size=(2, 300))
        rejections += diebold_mariano(e1, e2).better != "neither"
    assert 0.02 <= rejections / trials <= 0.09  # nominal 5 %


def test_dm_detects_a_clearly_better_model_and_its_direction() -> None:
    rng = np.random.default_rng(2)
    e_naive = rng.normal(size=500)
    e_model = 0.5 * rng.normal(size=500)
    res = diebold_mariano(e_model, e_naive)
    assert res.better == "model" and res.p_value < 1e-6 and res.statistic < 0
    assert "beats naive" in res.message()
    worse = diebold_mariano(e_naive * 3, e_naive)
    assert worse.better == "naive" and "do not use" in worse.message()


def test_dm_multi_step_uses_autocorrelation() -> None:
    """Overlapping 7-day errors: HAC variance must not give absurdly small p-values."""
    rng = np.random.default_rng(3)
    shocks = rng.normal(size=(2, 1000 + 7))
    kernel = np.ones(7)
    e1 = np.convolve(shocks[0], kernel, "valid")[:1000]
    e2 = np.convolve(shocks[1], kernel, "valid")[:1000]
    lenient = diebold_mariano(e1, e2, horizon=1)
    honest = diebold_mariano(e1, e2, horizon=7)
    assert abs(honest.statistic) < abs(lenient.statistic)


def test_conformal_coverage_near_nominal_on_exchangeable_errors() -> None:
    rng = np.random.default_rng(4)
    horizon = 5
    scale = np.sqrt(np.arange(1, horizon + 1)) * 0.02
    calib = rng.normal(size=(400, horizon)) * scale
    q = conformal_quantiles(calib, alpha=0.1)
    assert np.all(np.diff(q) > 0)  # widens with the horizon
    truth = 100 * np.exp(rng.normal(size=(5000, horizon)) * scale)
    fc = np.full_like(truth, 100.0)
    lo, hi = interval_bounds(fc, q)
    cov = coverage(truth, lo, hi)
    assert np.all(np.abs(cov - 0.9) < 0.03), cov
    assert np.all(lo > 0)


def test_quantiles_extend_by_sqrt_h_when_residuals_run_out() -> None:
    res = np.full((20, 4), np.nan)
    res[:, 0] = np.linspace(0.0, 0.1, 20)
    q = conformal_quantiles(res, alpha=0.1)
    assert q[3] == pytest.approx(q[0] * 2.0)
    assert extend_quantiles(q, 9)[8] == pytest.approx(q[0] * 3.0)


def test_score_paths_table_has_every_method_and_horizon() -> None:
    rng = np.random.default_rng(5)
    actual = 100 + rng.normal(size=(50, 3)).cumsum(axis=1)
    base = np.full(50, 100.0)
    ev = score_paths(
        actual, {"model": actual + 0.1, "naive": baselines.naive(base, 3)}, base, scale=1.0
    )
    assert set(ev.table["method"]) == {"model", "naive"}
    assert sorted(set(ev.table["horizon"])) == [1, 2, 3]
    assert ev.metric("model", 1, "mae") == pytest.approx(0.1)
    assert ev.dm[0].better == "model"
    d = ev.to_dict()
    assert d["verdict"].startswith("The model beats naive")
