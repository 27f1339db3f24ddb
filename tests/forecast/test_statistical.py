"""AutoETS / AutoARIMA on series whose structure we chose: they must find it."""

from __future__ import annotations

import numpy as np
import pytest

from coincast.api import Forecaster
from coincast.errors import DataError, ParameterError
from coincast.forecast import statistical
from tests.helpers.histories import history

pytestmark = pytest.mark.usefixtures("one_thread")


def ar1_prices(n: int = 700, phi: float = 0.5, seed: int = 0) -> np.ndarray:
    """Log returns follow AR(1) with coefficient ``phi``: ARIMA(1,1,0) on log prices."""
    rng = np.random.default_rng(seed)
    r, e = np.zeros(n), rng.normal(0, 0.02, n)
    for t in range(1, n):
        r[t] = phi * r[t - 1] + e[t]
    return 100 * np.exp(np.cumsum(r))


def drift_prices(n: int = 700, mu: float = 0.003, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 * np.exp(mu * np.arange(n) + np.cumsum(rng.normal(0, 0.005, n)))


def test_auto_arima_recovers_an_ar1_return_process() -> None:
    y = np.log(ar1_prices())
    p, q, drift = statistical.choose("arima", y[:600])
    assert p >= 1 and not drift
    res = statistical.fit("arima", y[:600], (1, 0, False))
    assert abs(float(res.params[0]) - 0.5) < 0.1  # ar.L1


def test_auto_arima_beats_naive_on_ar1_walk_forward() -> None:
    price = ar1_prices()
    at = np.arange(599, 699)
    paths = statistical.walk_paths("arima", price, at, 1)
    actual = price[at + 1]
    assert np.mean((paths[:, 0] - actual) ** 2) < 0.9 * np.mean((price[at] - actual) ** 2)


def test_auto_ets_finds_the_drift() -> None:
    price = drift_prices()
    trend, _damped = statistical.choose("ets", np.log(price[:600]))
    assert trend
    paths = statistical.walk_paths("ets", price, np.arange(599, 640), 7)
    slope = np.log(paths[:, 6] / paths[:, 0]) / 6
    assert abs(float(np.mean(slope)) - 0.003) < 0.001


def test_a_forecast_knows_only_its_past() -> None:
    price = drift_prices()
    at = np.arange(599, 620)
    before = statistical.walk_paths("arima", price, at, 3, (0, 0, True))
    changed = price.copy()
    changed[620:] *= 3.0  # the future after the last origin
    after = statistical.walk_paths("arima", changed, at, 3, (0, 0, True))
    np.testing.assert_allclose(before, after)


def test_bad_requests_say_what_to_do() -> None:
    with pytest.raises(ParameterError, match="choose from ets, arima"):
        statistical.walk_paths("prophet", drift_prices(), np.arange(100, 110), 1)
    with pytest.raises(DataError, match="at least 60 days"):
        statistical.choose("ets", np.log(drift_prices(30)))


def test_forecaster_scores_them_beside_naive_when_asked() -> None:
    h = history(drift_prices(500))
    fast = {"units": (4,), "epochs": 1, "window": 5}
    fc = Forecaster("shrunk", statistical_baselines=True, **fast).fit(h, test_start=h.index[440])
    assert fc.evaluation is not None
    table = fc.evaluation.table
    assert {"ets", "arima"} <= set(table["method"])
    mae = {m: fc.evaluation.metric(m, 7, "mae") for m in ("ets", "arima", "naive")}
    assert all(np.isfinite(v) and v > 0 for v in mae.values())
    assert mae["ets"] != mae["naive"]  # a trend was fitted, not a copy of the last price
    plain = Forecaster("shrunk", **fast).fit(h, test_start=h.index[440])
    assert plain.evaluation is not None and "ets" not in set(plain.evaluation.table["method"])


@pytest.mark.parametrize(
    ("kind", "config"),
    [("arima", (0, 0, True)), ("arima", (1, 0, False)), ("ets", (True, True))],
)
def test_between_refits_a_forecast_is_the_fitted_model_filtered_to_its_origin(
    kind: str, config: tuple[object, ...]
) -> None:
    # statsmodels' ``extend`` dropped ARIMA's drift offset: every origin between refits
    # was off by a constant factor (bitcoin: 1.38×). Each origin must equal the model
    # fitted at the last refit, filtered with those parameters through the origin.
    price = drift_prices()
    y = np.log(price)
    at = np.arange(599, 599 + statistical.REFIT_DAYS)
    paths = statistical.walk_paths(kind, price, at, 3, config)
    res = statistical.fit(kind, y[: at[0] + 1], config)
    for i in (1, 10, len(at) - 1):
        o = int(at[i])
        want = statistical._model(kind, y[: o + 1], config).filter(res.params).forecast(3)
        np.testing.assert_allclose(paths[i], np.exp(want), rtol=1e-6)
    if kind == "arima" and config[2]:
        step = np.log(paths[:, 0] / price[at])  # one day of drift, not a level error
        assert np.all(np.abs(step - 0.003) < 0.003)
