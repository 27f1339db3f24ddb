"""Split-conformal prediction intervals per horizon, in log-price space.

Calibrated on the validation period (data the network was not fitted on): for each
horizon h, the ⌈(n+1)(1-α)⌉-th smallest absolute log residual |log(actual/forecast)|
gives a band ``forecast · exp(±q_h)`` with ≥ 1-α coverage when errors are exchangeable.
Crypto errors are not (volatility clusters), so the benchmark reports the coverage
actually achieved on the test period (and ``risk.py`` normalises the residuals by a
volatility forecast and updates the widths as outcomes arrive). Log space keeps the lower
bound positive and lets the band widen with the price level.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from coincast.errors import ParameterError

__all__ = [
    "conformal_quantiles",
    "coverage",
    "extend_quantiles",
    "interval_bounds",
    "winkler",
]


def conformal_quantiles(log_residuals: ArrayLike, alpha: float = 0.1) -> NDArray[np.float64]:
    """log_residuals [n, H] (NaN where unknown) → q [H].

    A horizon with too few residuals for the finite-sample rank borrows the last
    calibrated horizon's quantile scaled by √(h/h₀) (random-walk error growth).
    """
    res = np.abs(np.asarray(log_residuals, dtype=np.float64))
    if res.ndim != 2:
        raise ParameterError("log_residuals must be [n, horizon]")
    q = np.full(res.shape[1], np.nan)
    for h in range(res.shape[1]):
        r = np.sort(res[:, h][np.isfinite(res[:, h])])
        k = math.ceil((r.size + 1) * (1.0 - alpha))
        if 1 <= k <= r.size:
            q[h] = r[k - 1]
    return extend_quantiles(q, res.shape[1])


def extend_quantiles(q: ArrayLike, horizon: int) -> NDArray[np.float64]:
    """Fill missing or further horizons by √h scaling from the last known one."""
    src = np.asarray(q, dtype=np.float64)
    out = np.full(horizon, np.nan)
    out[: min(horizon, src.size)] = src[:horizon]
    known = np.flatnonzero(np.isfinite(out))
    if known.size == 0:
        return np.full(horizon, np.inf)
    for h in range(horizon):
        if not np.isfinite(out[h]):
            base = int(known[known < h][-1]) if np.any(known < h) else int(known[0])
            out[h] = out[base] * math.sqrt((h + 1) / (base + 1))
    return out


def interval_bounds(
    forecast: ArrayLike, q: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """forecast [..., H] USD, q [H] → (lower, upper) in USD."""
    f = np.asarray(forecast, dtype=np.float64)
    qq = np.asarray(q, dtype=np.float64)[: f.shape[-1]]
    return f * np.exp(-qq), f * np.exp(qq)


def coverage(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> NDArray[np.float64]:
    """Empirical coverage per horizon: [N, H] arrays → [H] (NaN actuals ignored)."""
    a = np.asarray(actual, dtype=np.float64)
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    ok = np.isfinite(a)
    inside = (a >= lo) & (a <= hi) & ok
    n = ok.sum(axis=0)
    out: NDArray[np.float64] = np.divide(
        inside.sum(axis=0), n, out=np.full(a.shape[1], np.nan), where=n > 0
    )
    return out


def winkler(
    actual: ArrayLike, lower: ArrayLike, upper: ArrayLike, base: ArrayLike, alpha: float = 0.1
) -> NDArray[np.float64]:
    """Mean Winkler (interval) score per horizon, as a fraction of the origin price.

    W = (u - l) + (2/α)(l - y)·[y < l] + (2/α)(y - u)·[y > u] (Winkler, 1972; Gneiting &
    Raftery's interval score): a band is paid for its width and fined for every dollar
    the outcome falls outside, so a wide band cannot buy coverage for free. It equals
    (2/α) times the summed pinball losses of the α/2 and 1-α/2 quantiles. Dividing by the
    origin price [N] makes coins and years comparable and poolable. [N, H] → [H].
    """
    y = np.asarray(actual, dtype=np.float64)
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)[:, None]
    with np.errstate(invalid="ignore"):
        w = (hi - lo) + (2.0 / alpha) * (np.maximum(lo - y, 0.0) + np.maximum(y - hi, 0.0))
        w = w / b
    ok = np.isfinite(y) & ~np.isnan(w)  # an unbounded band scores ∞, not "not counted"
    n = ok.sum(axis=0)
    out: NDArray[np.float64] = np.divide(
        np.where(ok, w, 0.0).sum(axis=0), n, out=np.full(y.shape[1], np.nan), where=n > 0
    )
    return out
