"""Calibrate a forecaster's intervals on validation, then update them through a scored period.

Two steps every caller (a fit, a refitting backtest, the risk benchmark) runs the same way:

1. ``calibrate``: fit the volatility model on returns known before the scored period,
   and take the conformity scores of the validation forecasts;
2. ``walk``: go through the scored period origin by origin, using at each origin only the
   outcomes already known (adaptive conformal, ``risk.adaptive_quantiles``), and leave the
   state ready for the next real forecast (quantiles, ACI level, last variance).
"""

from __future__ import annotations

from typing import Protocol, cast

import numpy as np
from numpy.typing import NDArray

from coincast.forecast.intervals import conformal_quantiles
from coincast.forecast.risk import IntervalMethod, IntervalState, adaptive_quantiles
from coincast.forecast.volatility import log_returns

__all__ = ["calibrate", "walk"]


def calibrate(
    method: str,
    price: NDArray[np.float64],
    at: NDArray[np.intp],
    paths: NDArray[np.float64],
    actual: NDArray[np.float64],
    *,
    known: int,
    alpha: float = 0.1,
    gamma: float = 0.0,
    lam: float = 0.94,
    clip: float | None = None,
) -> tuple[IntervalState, NDArray[np.float64]]:
    """Validation origins ``at`` with their paths/actuals [n, H]; ``known`` = the first day
    index not known at calibration (the start of the scored period).

    → (state, calibration scores [n, H]). The state's quantiles are the split-conformal
    ones of those scores; ``walk`` refines them.
    """
    r = log_returns(price[:known])
    vol = IntervalState.fit_vol(method, r[1:], lam, clip)  # rejects an unknown method
    state = IntervalState(cast(IntervalMethod, method), 1.0 - alpha, gamma, vol=vol)
    horizon = paths.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.abs(np.log(actual / paths)) / state.scale(price, at, horizon)
    state.quantiles = conformal_quantiles(scores, alpha)
    state.last_var = state.variance_at(price, known - 1)
    return state, scores


class IntervalRecipe(Protocol):
    """What a preset (or the global model's config) says about its intervals."""

    @property
    def intervals(self) -> str: ...
    @property
    def aci_gamma(self) -> float: ...
    @property
    def ewma_lambda(self) -> float: ...
    @property
    def ewma_clip(self) -> float | None: ...


def calibrate_as(
    recipe: IntervalRecipe,
    price: NDArray[np.float64],
    at: NDArray[np.intp],
    paths: NDArray[np.float64],
    actual: NDArray[np.float64],
    *,
    known: int,
    alpha: float,
) -> tuple[IntervalState, NDArray[np.float64]]:
    """``calibrate`` with the method and its parameters read from a recipe: every model
    (per-coin, ensemble, global) calibrates the same way from the same fields."""
    r = recipe
    return calibrate(r.intervals, price, at, paths, actual, known=known, alpha=alpha,
                     gamma=r.aci_gamma, lam=r.ewma_lambda, clip=r.ewma_clip)  # fmt: skip


def walk(
    state: IntervalState,
    cal_scores: NDArray[np.float64],
    price: NDArray[np.float64],
    at: NDArray[np.intp],
    paths: NDArray[np.float64],
    actual: NDArray[np.float64],
    *,
    last: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bounds [N, H] USD for the scored origins ``at``; updates ``state`` in place so its
    quantiles and variance are those for a forecast after day ``last``."""
    horizon = paths.shape[1]
    scale = state.scale(price, at, horizon)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.abs(np.log(actual / paths)) / scale
    alpha = 1.0 - state.level
    hc = min(horizon, cal_scores.shape[1])  # horizons calibrated; longer ones extend
    q, q_next, alpha_t = adaptive_quantiles(cal_scores[:, :hc], scores[:, :hc], alpha, state.gamma)
    width = state.extend(q, horizon) * scale
    if state.gamma > 0:
        state.quantiles = np.concatenate([q_next, state.quantiles[hc:]])
        state.alpha_t = [float(a) for a in alpha_t]
    state.last_var = state.variance_at(price, last)
    return paths * np.exp(-width), paths * np.exp(width)
