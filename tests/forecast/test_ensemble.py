"""Ensembles: averaging must help (or change nothing), and must not invent skill."""

from __future__ import annotations

import numpy as np
import pytest

from coincast.api import Ensemble, Forecaster
from coincast.errors import ParameterError
from coincast.forecast import walkforward
from coincast.forecast.plan import FitPlan
from tests.helpers.histories import history

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {"units": (6,), "epochs": 3, "window": 8, "shrink": False}


def series(n: int = 500, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 * np.exp(0.2 * np.sin(t / 15) + np.cumsum(rng.normal(0, 0.01, n)))


def fitted(h, seed: int) -> tuple[Forecaster, FitPlan]:  # type: ignore[no-untyped-def]
    fc = Forecaster("shrunk", **{**FAST, "seed": seed})
    plan = fc.plan(h, test_start=h.index[-60])
    return fc.finish(plan, plan.train()), plan


def test_seed_ensemble_has_lower_validation_error_than_its_members_mean() -> None:
    h = history(series())
    members = [fitted(h, s) for s in (42, 43, 44)]
    ens = Ensemble(["shrunk"], seeds=(42, 43, 44), **FAST).assemble(members)
    prep = members[0][1].prep
    b = prep.bounds
    val = walkforward.origins(b.val_start, b.test_start)
    actual = prep.price[val + 1]
    each = [np.mean((p[:, 0] - actual) ** 2) for p in ens.member_paths(prep, val, 1)]
    mse = float(np.mean((ens.paths(prep, val, 1)[:, 0] - actual) ** 2))
    assert len(set(np.round(each, 12))) == 3  # the seeds really differ
    assert mse < float(np.mean(each))
    assert ens.evaluation is not None and 0.7 <= ens.evaluation.coverage[0] <= 1.0
    assert ens.forecast(5).columns.tolist() == members[0][0].forecast(5).columns.tolist()


def test_equal_members_forecast_what_one_member_forecasts() -> None:
    h = history(series())
    one = fitted(h, 42)
    twin = fitted(h, 42)
    ens = Ensemble(["shrunk"], seeds=(42, 42), **FAST).assemble([one, twin])
    np.testing.assert_allclose(
        ens.forecast(7)["forecast"].to_numpy(), one[0].forecast(7)["forecast"].to_numpy()
    )


def test_random_walk_gets_no_significance_claim_from_the_ensemble() -> None:
    rng = np.random.default_rng(11)
    h = history(100 * np.exp(np.cumsum(rng.normal(0, 0.03, 600))))
    ens = Ensemble.of_seeds("shrunk", 2, **FAST).fit(h, test_start=h.index[-200])
    assert ens.evaluation is not None
    assert ens.evaluation.dm[0].better != "model"
    assert "No evidence" in ens.evaluation.verdict or "Naive" in ens.evaluation.verdict


def test_lstm_plus_ets_and_export_refused() -> None:
    h = history(series())
    ens = Ensemble(["shrunk", "ets"], **FAST).assemble([fitted(h, 42)])
    assert ens.n_members == 2 and ens.evaluation is not None
    assert np.isfinite(ens.evaluation.metric("model", 1, "mae"))
    with pytest.raises(ParameterError, match="cannot be saved as one TF.js model"):
        ens.export()
    with pytest.raises(ParameterError, match="unknown preset"):
        Ensemble(["nope"])
