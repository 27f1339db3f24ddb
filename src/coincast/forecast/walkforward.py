"""Walk-forward scoring: forecasts from many origins, realised prices, scores beside baselines.

Every evaluation in coincast (a fit's test period, a refitting backtest, the validation
error that batched training, tuning and the shrink weight look at) is built from these
pieces, so "origin", "horizon" and "what is known" mean the same thing everywhere:

- an *origin* is the index of the last day a forecast may know; its forecasts are for
  origin + 1 .. origin + h;
- a realised price counts only while its day is before ``stop`` (the end of the period
  being scored), so validation scores never read a test price, and test scores never
  read past the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from coincast.forecast import baselines, metrics, risk_baselines, statistical
from coincast.forecast.evaluate import Evaluation, score_paths
from coincast.forecast.forecast import ForecastSpec, predict_paths
from coincast.model.lstm import LSTMRegressor
from coincast.prep.dataset import Prepared

__all__ = [
    "actuals",
    "iso",
    "mean_mape",
    "origins",
    "paths",
    "score",
    "validation_mape",
]


def origins(first_day: int, stop: int) -> NDArray[np.intp]:
    """Origins whose first forecast day is in [first_day, stop): one per scored day."""
    return np.arange(first_day - 1, stop - 1, dtype=np.intp)


def paths(
    model: LSTMRegressor, spec: ForecastSpec, prep: Prepared, at: NDArray[np.intp], h: int
) -> NDArray[np.float64]:
    """Forecast h days after each origin in ``at`` → [N, h] USD."""
    idx = at[:, None] + np.arange(-spec.window, 1)[None, :]  # [N, window+1]
    return predict_paths(model, spec, prep.price[idx], prep.volume[idx], prep.market_cap[idx], h)


def actuals(prep: Prepared, at: NDArray[np.intp], h: int, stop: int) -> NDArray[np.float64]:
    """Realised prices [N, h]; NaN where origin + k reaches ``stop`` (not known / not ours)."""
    idx = at[:, None] + np.arange(1, h + 1)[None, :]
    out = np.full(idx.shape, np.nan)
    ok = idx < stop
    out[ok] = prep.price[idx[ok]]
    return out


def iso(dates: pd.DatetimeIndex, i: int) -> str:
    return pd.Timestamp(dates[i]).date().isoformat()


def score(
    prep: Prepared,
    at: NDArray[np.intp],
    model_paths: NDArray[np.float64],
    *,
    stop: int,
    lower: NDArray[np.float64] | None = None,
    upper: NDArray[np.float64] | None = None,
    alpha: float = 0.1,
    interval_method: str | None = None,
    statistical_baselines: bool = False,
) -> Evaluation:
    """The model's paths [N, h] scored beside naive and drift on the same origins.

    ``statistical_baselines`` adds AutoETS and AutoARIMA (``statistical``; rows "ets" and
    "arima"), opt-in because they cost 5–15 s per model per coin-year.

    MASE is scaled by naive's in-sample error on the days before the scored period
    (what was known before it started). Intervals, when given, are scored beside the
    constant band and GARCH(1,1)-t (``risk_baselines``) on the same origins.
    """
    h = model_paths.shape[1]
    first_day = int(at[0]) + 1
    base = prep.price[at]
    interval_baselines = None
    if lower is not None:
        interval_baselines = {
            "band": risk_baselines.band(prep.price, at, h, alpha),
            "garch": risk_baselines.garch_t(prep.price, at, h, alpha),
        }
    forecasts = {
        "model": model_paths,
        "naive": baselines.naive(base, h),
        "drift": baselines.drift(prep.price, at, h),
    }
    if statistical_baselines:
        for kind in statistical.KINDS:
            forecasts[kind] = statistical.walk_paths(kind, prep.price, at, h)
    return score_paths(
        actuals(prep, at, h, stop),
        forecasts,
        base,
        metrics.mase_scale(prep.price[1:first_day]),
        lower=lower,
        upper=upper,
        alpha=alpha,
        start=iso(prep.dates, first_day),
        end=iso(prep.dates, stop - 1),
        interval_baselines=interval_baselines,
        interval_method=interval_method,
    )


def mean_mape(actual: NDArray[np.float64], pred: NDArray[np.float64]) -> float:
    """MAPE per horizon (columns), averaged; NaN when no horizon has a scored day."""
    per_h = [metrics.mape(actual[:, k], pred[:, k]) for k in range(actual.shape[1])]
    return float(np.nanmean(per_h)) if np.isfinite(per_h).any() else float("nan")


def validation_mape(
    model: LSTMRegressor, spec: ForecastSpec, prep: Prepared, horizon: int
) -> tuple[float, float]:
    """Walk-forward MAPE (model, naive) over the validation days, mean of h=1..horizon.

    What tuning and the many-coin summary may look at: a forecast day that falls in the
    test period is not scored, so nothing here ever reads a test price.
    """
    b = prep.bounds
    at = origins(b.val_start, b.test_start)
    if at.size == 0:
        return float("nan"), float("nan")
    actual = actuals(prep, at, horizon, b.test_start)
    naive = baselines.naive(prep.price[at], horizon)
    return mean_mape(actual, paths(model, spec, prep, at, horizon)), mean_mape(actual, naive)
