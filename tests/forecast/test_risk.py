"""Volatility-adaptive intervals, interval scores and pooled significance, on series we know.

The GARCH series below has a calm regime (≈1 % daily) and then a volatility jump (≈4 %):
intervals calibrated on the calm part must keep ~90 % coverage after the jump when they
adapt, and visibly lose it when they are plain split-conformal.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from coincast.api import Forecaster
from coincast.forecast import risk_baselines
from coincast.forecast.calibration import calibrate, walk
from coincast.forecast.intervals import conformal_quantiles, coverage, winkler
from coincast.forecast.pooled import direction_test, pooled_dm
from coincast.forecast.risk import IntervalState, adaptive_quantiles
from coincast.forecast.volatility import VolModel, log_returns
from coincast.model.presets import PRESETS
from tests.helpers.histories import history

pytestmark = pytest.mark.usefixtures("one_thread")

JUMP = 900


def garch_jump(n: int = 1400, seed: int = 3) -> np.ndarray:
    """Prices from a GARCH(1,1)-t(5) whose unconditional variance jumps ×16 at JUMP."""
    rng = np.random.default_rng(seed)
    a, b = 0.08, 0.90
    r = np.zeros(n)
    s2 = 1e-4
    for t in range(1, n):
        omega = 2e-6 if t < JUMP else 32e-6
        s2 = omega + a * r[t - 1] ** 2 + b * s2
        r[t] = np.sqrt(s2) * rng.standard_t(5) / np.sqrt(5 / 3)
    return 100.0 * np.exp(np.cumsum(r))


def _naive_coverage(method: str, gamma: float, lam: float = 0.97) -> np.ndarray:
    price, h = garch_jump(), 7
    cal_at = np.arange(500, JUMP - 1)
    at = np.arange(JUMP - 1, len(price) - 1)

    def actual(origins: np.ndarray, stop: int) -> np.ndarray:
        idx = origins[:, None] + np.arange(1, h + 1)[None, :]
        out = np.full(idx.shape, np.nan)
        out[idx < stop] = price[idx[idx < stop]]
        return out

    def naive(origins: np.ndarray) -> np.ndarray:
        return np.repeat(price[origins][:, None], h, axis=1)

    state, cal = calibrate(
        method,
        price,
        cal_at,
        naive(cal_at),
        actual(cal_at, JUMP),
        known=JUMP,
        gamma=gamma,
        lam=lam,
    )
    act = actual(at, len(price))
    lo, hi = walk(state, cal, price, at, naive(at), act, last=len(price) - 1)
    return coverage(act, lo, hi)


def test_adaptive_intervals_keep_coverage_after_a_volatility_jump() -> None:
    split = _naive_coverage("split", 0.0)
    p = PRESETS["shrunk"]
    adaptive = _naive_coverage(p.intervals, p.aci_gamma, p.ewma_lambda)
    garch = _naive_coverage("garch", p.aci_gamma)
    for h in (0, 6):
        assert split[h] < 0.75, split  # calibrated on the calm regime: far too narrow
        assert 0.85 <= adaptive[h] <= 0.95, adaptive
        assert 0.85 <= garch[h] <= 0.95, garch


def test_forecaster_intervals_adapt_and_split_conformal_drops() -> None:
    h = history(garch_jump())
    fast = {"units": (8,), "epochs": 2, "window": 10}
    dates = {"val_start": h.index[500], "test_start": h.index[JUMP]}
    ada = Forecaster("shrunk", **fast).fit(h, **dates)
    split = Forecaster("shrunk", intervals="split", aci_gamma=0.0, **fast).fit(h, **dates)
    assert ada.evaluation is not None and split.evaluation is not None
    assert split.evaluation.coverage[0] < 0.75
    assert 0.85 <= ada.evaluation.coverage[0] <= 0.95
    assert 0.85 <= ada.evaluation.coverage[6] <= 0.95
    ev = ada.evaluation.to_dict()
    assert ev["interval_method"] == PRESETS["shrunk"].intervals
    assert set(ev["interval_score"]) == {"model", "band", "garch"}
    # after a jump the constant band (calibrated mostly on calm days) scores worse
    assert ada.evaluation.winkler_ratio("band", 1) < 1
    assert "GARCH(1,1)-t" in ada.evaluation.risk_verdict


@pytest.mark.parametrize("method", ["ewma", "garch"])
def test_adaptive_intervals_survive_tfjs_and_recompute_from_history(method: str) -> None:
    h = history(garch_jump(700))
    fc = Forecaster("shrunk", units=(8,), epochs=2, window=10, intervals=method).fit(h)
    meta = json.loads(json.dumps(fc.metadata(), allow_nan=False))
    assert meta["intervals"]["kind"] == method
    assert meta["intervals"]["volatility"]["kind"] == method  # the GARCH fit succeeded
    again = Forecaster.from_tfjs(*fc.export())
    pd.testing.assert_frame_equal(again.forecast(40), fc.forecast(40))
    pd.testing.assert_frame_equal(again.forecast(7, history=h), fc.forecast(7))
    # a calmer recent history gives narrower bands: the variance is recomputed from it
    calm = h.copy()
    calm.iloc[-60:, 0] = calm["price"].iloc[-61] * np.exp(np.linspace(0, 0.01, 60))
    wide, narrow = fc.forecast(7), again.forecast(7, history=calm)
    assert ((narrow["upper"] / narrow["forecast"]) < (wide["upper"] / wide["forecast"])).all()


def test_old_split_conformal_metadata_loads_as_split() -> None:
    h = history(garch_jump(400))
    fc = Forecaster("paper", units=(8,), epochs=2, window=10, intervals="split").fit(h)
    meta = fc.metadata()
    q = meta["intervals"]["quantiles"]
    meta["intervals"] = {"method": "split-conformal", "level": 0.9, "quantiles": q}
    old = Forecaster.from_tfjs(fc.export()[0], fc.export()[1])
    old = Forecaster.from_model(old.model, meta)  # type: ignore[arg-type]
    out = old.forecast(7)
    np.testing.assert_allclose(out["upper"] / out["forecast"], np.exp(q[:7]), rtol=1e-9)


def test_winkler_score_against_a_hand_computed_case() -> None:
    # inside: width 4; 13 above 12: 4 + 20·1; 7 below 8: 4 + 20·1 (α = 0.1 → 2/α = 20)
    actual = np.array([[10.0], [13.0], [7.0], [np.nan]])
    lower, upper = np.full((4, 1), 8.0), np.full((4, 1), 12.0)
    base = np.array([10.0, 10.0, 10.0, 10.0])
    w = winkler(actual, lower, upper, base, alpha=0.1)
    assert w[0] == pytest.approx((0.4 + 2.4 + 2.4) / 3)
    # a band twice as wide that always covers scores its width, not less
    assert winkler(actual[:1], lower[:1] - 2, upper[:1] + 2, base[:1])[0] == pytest.approx(0.8)


def test_fixed_adaptive_quantiles_are_the_split_conformal_ones() -> None:
    rng = np.random.default_rng(0)
    cal = np.abs(rng.normal(size=(200, 3)))
    q, q_next, alpha_t = adaptive_quantiles(cal, np.abs(rng.normal(size=(50, 3))), 0.1, 0.0)
    np.testing.assert_allclose(q_next, conformal_quantiles(cal, 0.1))
    np.testing.assert_allclose(q, np.repeat(q_next[None, :], 50, axis=0))
    assert list(alpha_t) == [0.1, 0.1, 0.1]
    # outcomes twice as large as the calibration's: ACI must raise the quantile
    _, q_up, a_up = adaptive_quantiles(cal, 2 * np.abs(rng.normal(size=(300, 3))), 0.1, 0.02)
    assert (q_up > q_next).all() and (a_up < 0.1).all()


def test_ewma_variance_and_garch_baseline() -> None:
    r = np.array([0.0, 0.1, -0.1, 0.0])
    vol = VolModel("ewma", 0.0, 0.1, 0.9, 0.01)
    s2 = vol.next_variance(r)
    assert s2[1] == pytest.approx(0.9 * 0.9 * 0.01 + 0.1 * 0.01)
    assert vol.horizon_scale(s2[-1:], 4)[0, 3] == pytest.approx(np.sqrt(4 * s2[-1]))
    price = garch_jump(800)
    at = np.arange(600, 700)
    lo, hi = risk_baselines.garch_t(price, at, 3)
    assert np.isfinite(lo).all() and (lo < price[at, None]).all() and (hi > price[at, None]).all()
    assert (hi[:, 2] / lo[:, 2] > hi[:, 0] / lo[:, 0]).all()  # wider further out
    assert IntervalState.fit_vol("garch", log_returns(price)[1:], 0.97) is not None


def test_random_walk_panel_gets_no_significance_claim() -> None:
    rng = np.random.default_rng(11)
    e_model, e_naive, hits, n = [], [], 0, 0
    for _ in range(12):
        r = rng.normal(0, 0.03, 400)  # random-walk returns: nothing to predict
        guess = 0.5 * np.concatenate([[0.0], r[:-1]])  # a "momentum" model
        e_model.append(r - guess)
        e_naive.append(r)
        calls = guess[1:] != 0
        hits += int(np.sum(np.sign(guess[1:][calls]) == np.sign(r[1:][calls])))
        n += int(calls.sum())
    dm = pooled_dm(e_model, e_naive)
    assert dm.better != "model" and dm.n == 12 * 400
    _, p, say = direction_test(hits, n)
    assert p > 0.05 and "no better than a coin flip" in say
    # the same test does find skill where there is some (AR(1) returns, true coefficient)
    e_model, e_naive = [], []
    for _ in range(12):
        eps = rng.normal(0, 0.03, 400)
        r = np.zeros(400)
        for t in range(1, 400):
            r[t] = 0.3 * r[t - 1] + eps[t]
        e_model.append(r[1:] - 0.3 * r[:-1])
        e_naive.append(r[1:])
    assert pooled_dm(e_model, e_naive).better == "model"
