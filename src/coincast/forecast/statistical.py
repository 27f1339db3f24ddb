"""Statistical baselines as ordinary models: AutoETS and AutoARIMA on log prices.

statsforecast (the usual home of AutoETS/AutoARIMA) requires pandas<3 and we pin pandas
3.1.1, so both are built on statsmodels' state-space models, which can *append* new
days to a fitted model without refitting: the configuration (trend / damping for ETS, the
(p, 1, q) order and drift for ARIMA) is chosen once by AIC on the data before the scored
period, its parameters are refitted every ``REFIT_DAYS`` days on the trailing
``FIT_DAYS`` days known at that origin, and between refits each origin's forecast comes
from the state filtered, with those parameters, through every day up to that origin
(statsmodels' ``append``). Daily refits would cost 30× more fits (about a minute per
coin-year per model on one core) for parameters that barely move in a month.
Log prices: errors are then proportional to the price, as for every other model here.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from coincast.errors import DataError, ParameterError

__all__ = ["FIT_DAYS", "KINDS", "REFIT_DAYS", "StatKind", "choose", "fit", "walk_paths"]

StatKind = Literal["ets", "arima"]
KINDS: tuple[StatKind, ...] = ("ets", "arima")
REFIT_DAYS = 30
FIT_DAYS = 1000
MIN_DAYS = 60
# ETS: (trend, damped); ARIMA: (p, q, drift). Small on purpose: daily log prices are
# close to a random walk, and a large search mostly fits noise (and costs minutes).
ETS_CONFIGS: tuple[tuple[bool, bool], ...] = ((False, False), (True, False), (True, True))
ARIMA_CONFIGS: tuple[tuple[int, int, bool], ...] = (
    (0, 0, False),
    (0, 0, True),
    (1, 0, False),
    (0, 1, False),
    (1, 1, False),
    (2, 0, False),
)


def _model(kind: str, y: NDArray[np.float64], config: tuple[Any, ...]) -> Any:
    if kind == "ets":
        from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

        trend, damped = config
        return ExponentialSmoothing(y, trend=trend, damped_trend=damped)
    from statsmodels.tsa.arima.model import ARIMA

    p, q, drift = config
    return ARIMA(y, order=(p, 1, q), trend="t" if drift else "n")


def fit(kind: str, y: NDArray[np.float64], config: tuple[Any, ...]) -> Any:
    """Fit one configuration on log prices ``y``; statsmodels' convergence chatter muted
    (a poorly converged fit is still a valid forecast, and AIC judges it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = _model(kind, y, config)
        return model.fit(disp=False) if kind == "ets" else model.fit()


def choose(kind: str, y: NDArray[np.float64]) -> tuple[Any, ...]:
    """The configuration with the lowest AIC on ``y`` (log prices known before scoring)."""
    if kind not in KINDS:
        raise ParameterError(f"unknown statistical model {kind!r}; choose from ets, arima.")
    if len(y) < MIN_DAYS:
        raise DataError(
            f"{kind} needs at least {MIN_DAYS} days before the first origin, got {len(y)}."
        )
    configs = ETS_CONFIGS if kind == "ets" else ARIMA_CONFIGS
    best, best_aic = configs[0], np.inf
    for config in configs:
        try:
            aic = float(fit(kind, y[-FIT_DAYS:], config).aic)
        except (ValueError, np.linalg.LinAlgError):
            continue
        if np.isfinite(aic) and aic < best_aic:
            best, best_aic = config, aic
    return best


def walk_paths(
    kind: str,
    price: NDArray[np.float64],
    at: NDArray[np.intp],
    h: int,
    config: tuple[Any, ...] | None = None,
) -> NDArray[np.float64]:
    """Forecast h days after each origin in ``at`` (ascending) → [N, h] USD.

    Each origin sees only ``price[: origin + 1]``; ``config`` defaults to the AIC choice
    on the days before the first origin.
    """
    if kind not in KINDS:
        raise ParameterError(f"unknown statistical model {kind!r}; choose from ets, arima.")
    y = np.log(np.asarray(price, dtype=np.float64))
    at = np.asarray(at, dtype=np.intp)
    out = np.full((len(at), h), np.nan)
    if len(at) == 0:
        return out
    config = config if config is not None else choose(kind, y[: int(at[0]) + 1])
    res: Any = None
    fitted_at = -1
    for i, o in enumerate(at):
        o = int(o)
        if res is None or o - fitted_at >= REFIT_DAYS:
            lo = max(0, o + 1 - FIT_DAYS)
            try:
                res = fit(kind, y[lo : o + 1], config)
                fitted_at = o
            except (ValueError, np.linalg.LinAlgError):
                if res is None:
                    raise
        # append, not extend: extend drops ARIMA's drift offset (forecasts off by a
        # constant factor) and gives different ETS trend forecasts (6 % in log, damped);
        # append re-filters the whole window with the fitted parameters.
        step = res if o == fitted_at else res.append(y[fitted_at + 1 : o + 1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[i] = np.exp(np.asarray(step.forecast(h), dtype=np.float64))
    return out
