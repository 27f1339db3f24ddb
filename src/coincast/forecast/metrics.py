"""Point-forecast error metrics; every function takes actual and predicted arrays.

NaN entries (a horizon past the end of the data) are ignored, so one call scores a whole
[origins, horizon] block without trimming.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["directional_accuracy", "mae", "mape", "mase", "mase_scale", "rmse", "smape"]


def _pair(actual: ArrayLike, pred: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(p)
    return a[ok], p[ok]


def rmse(actual: ArrayLike, pred: ArrayLike) -> float:
    a, p = _pair(actual, pred)
    return float(np.sqrt(np.mean((a - p) ** 2))) if a.size else float("nan")


def mae(actual: ArrayLike, pred: ArrayLike) -> float:
    a, p = _pair(actual, pred)
    return float(np.mean(np.abs(a - p))) if a.size else float("nan")


def mape(actual: ArrayLike, pred: ArrayLike) -> float:
    """Mean absolute percentage error, in percent (prices are positive, so it is defined)."""
    a, p = _pair(actual, pred)
    return float(100.0 * np.mean(np.abs((a - p) / a))) if a.size else float("nan")


def smape(actual: ArrayLike, pred: ArrayLike) -> float:
    """Symmetric MAPE in percent, 0..200: penalises over- and under-forecasts alike."""
    a, p = _pair(actual, pred)
    if not a.size:
        return float("nan")
    denom = np.abs(a) + np.abs(p)
    frac = np.divide(2.0 * np.abs(a - p), denom, out=np.zeros_like(a), where=denom > 0)
    return float(100.0 * np.mean(frac))


def mase_scale(in_sample_price: ArrayLike) -> float:
    """The in-sample one-day naive MAE: MASE's denominator (Hyndman & Koehler, 2006)."""
    p = np.asarray(in_sample_price, dtype=np.float64)
    d = np.abs(np.diff(p))
    d = d[np.isfinite(d)]
    return float(np.mean(d)) if d.size else float("nan")


def mase(actual: ArrayLike, pred: ArrayLike, scale: float) -> float:
    """MAE over the in-sample naive MAE: below 1 beats in-sample naive; scale-free across coins."""
    return mae(actual, pred) / scale if scale > 0 else float("nan")


def directional_accuracy(actual: ArrayLike, pred: ArrayLike, base: ArrayLike) -> float:
    """Share of forecasts that call the direction of change from ``base`` right.

    Forecasts with no direction (equal to base, like naive's) are left out; NaN when
    none has one, which is how naive is reported.
    """
    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    b = np.broadcast_to(np.asarray(base, dtype=np.float64), a.shape)
    dp = np.sign(p - b)
    ok = np.isfinite(a) & np.isfinite(p) & (dp != 0)
    if not ok.any():
        return float("nan")
    return float(np.mean(np.sign(a - b)[ok] == dp[ok]))
