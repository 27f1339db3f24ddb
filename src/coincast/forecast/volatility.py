"""Volatility forecasts at each origin: EWMA (RiskMetrics) or GARCH(1,1) with t innovations.

Both are the same recursion on daily log returns r_t,

    σ²_{t+1|t} = ω + a·r_t² + b·σ²_{t|t-1},

EWMA being ω = 0, a = 1-λ, b = λ (λ = 0.94, RiskMetrics' daily value). So a model is three
numbers plus a seed variance, and the forecast-time state is recomputable from any
history: what a TF.js ``model.json`` needs to carry is the parameters (``to_dict``),
never a fitted object. The h-day variance is the sum of the expected one-day variances
over the horizon, E σ²_{t+k} = V + (a+b)^{k-1}(σ²_{t+1|t} - V) with V = ω/(1-a-b) (for
EWMA, a+b = 1: the variance stays where it is).

GARCH is fitted by the ``arch`` package (imported only when fitting, so the core stays
light), on returns in percent for a well-conditioned optimiser, then converted back.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from coincast.errors import ParameterError

__all__ = ["GARCH_WINDOW", "VolModel", "fit_garch", "log_returns"]

GARCH_WINDOW = 1500  # trailing days a GARCH fit sees: recent regimes, bounded cost
MIN_GARCH_DAYS = 100


def log_returns(price: NDArray[np.float64]) -> NDArray[np.float64]:
    """price [T] → r [T] with r[0] = 0 and r[t] = log(p_t / p_{t-1}); non-finite → 0."""
    p = np.asarray(price, dtype=np.float64)
    r = np.zeros(p.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        r[1:] = np.log(p[1:] / p[:-1])
    r[~np.isfinite(r)] = 0.0
    return r


@dataclass(frozen=True)
class VolModel:
    """σ²_{t+1|t} = omega + alpha·r_t² + beta·σ²_{t|t-1}, seeded with ``var0``."""

    kind: Literal["ewma", "garch"]
    omega: float
    alpha: float
    beta: float
    var0: float
    nu: float | None = None  # Student-t degrees of freedom (GARCH-t), for the baseline
    clip: float | None = None  # winsorise |r_t| at clip·σ_{t|t-1}: one spike is not a regime

    @classmethod
    def ewma(
        cls, returns: NDArray[np.float64], lam: float = 0.94, clip: float | None = None
    ) -> VolModel:
        """EWMA seeded with the variance of the returns it is calibrated on."""
        if not 0.0 < lam < 1.0:
            raise ParameterError(f"ewma_lambda must be in (0, 1), got {lam}.")
        var0 = float(np.var(returns)) if len(returns) > 1 else 1e-4
        return cls("ewma", 0.0, 1.0 - lam, lam, max(var0, 1e-12), clip=clip)

    def next_variance(self, returns: NDArray[np.float64]) -> NDArray[np.float64]:
        """returns [T] → σ²_{t+1|t} [T]: the variance of day t+1 known at the end of day t."""
        r2 = np.asarray(returns, dtype=np.float64) ** 2
        if self.clip is not None:
            return self._clipped(r2, self.clip**2)
        x = self.omega + self.alpha * r2
        zi = np.array([self.beta * self.var0])
        out, _ = lfilter([1.0], [1.0, -self.beta], x, zi=zi)
        return np.maximum(np.asarray(out, dtype=np.float64), 1e-12)

    def _clipped(self, r2: NDArray[np.float64], c2: float) -> NDArray[np.float64]:
        """The recursion with r_t² capped at c²·σ²_{t|t-1} (a loop: the cap is nonlinear)."""
        out = np.empty(r2.shape)
        s2 = self.var0
        for t, x in enumerate(r2.tolist()):
            s2 = self.omega + self.alpha * min(x, c2 * s2) + self.beta * s2
            out[t] = s2
        return np.maximum(out, 1e-12)

    def horizon_scale(self, next_var: NDArray[np.float64], horizon: int) -> NDArray[np.float64]:
        """σ²_{t+1|t} [N] → [N, horizon]: the standard deviation of the k-day log return."""
        s2 = np.asarray(next_var, dtype=np.float64)[:, None]
        k = np.arange(horizon, dtype=np.float64)[None, :]
        persistence = self.alpha + self.beta
        if persistence < 1.0 - 1e-9:
            v = self.omega / (1.0 - persistence)
            daily = v + persistence**k * (s2 - v)
        else:
            daily = np.repeat(s2, horizon, axis=1)
        return np.sqrt(np.cumsum(daily, axis=1))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VolModel:
        kind = data["kind"]
        if kind not in ("ewma", "garch"):
            raise ParameterError(f"unknown volatility model {kind!r}")
        nu, clip = data.get("nu"), data.get("clip")
        return cls(
            kind,
            float(data["omega"]),
            float(data["alpha"]),
            float(data["beta"]),
            float(data["var0"]),
            None if nu is None else float(nu),
            None if clip is None else float(clip),
        )


def fit_garch(returns: NDArray[np.float64]) -> VolModel | None:
    """GARCH(1,1)-t (zero mean) on the last ``GARCH_WINDOW`` returns; None if too few or
    the optimiser fails (the caller falls back or reports no baseline, never crashes)."""
    r = np.asarray(returns, dtype=np.float64)[-GARCH_WINDOW:]
    r = r[np.isfinite(r)]
    if r.size < MIN_GARCH_DAYS or float(np.std(r)) <= 0:
        return None
    from arch import arch_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = arch_model(
                100.0 * r, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False
            ).fit(disp="off", show_warning=False)
        except (ValueError, np.linalg.LinAlgError, RuntimeError):
            return None
    par = res.params
    omega, a, b = float(par["omega"]) / 1e4, float(par["alpha[1]"]), float(par["beta[1]"])
    nu = float(par["nu"])
    # An integrated fit (a + b ≈ 1) is kept: ``horizon_scale`` then holds the variance.
    if not all(math.isfinite(v) for v in (omega, a, b, nu)) or omega < 0 or a + b > 1.0 + 1e-6:
        return None
    return VolModel("garch", omega, a, b, float(np.var(r)), nu)
