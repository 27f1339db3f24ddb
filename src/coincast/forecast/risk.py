"""Intervals that follow volatility: normalised conformal widths with adaptive updating.

Split-conformal on raw residuals (``method="split"``) assumes tomorrow's errors look like
the validation period's; crypto volatility clusters, so after a calm validation period
the bands are too narrow in a storm (and too wide after one). Here the conformity score
is the absolute log residual divided by the volatility forecast at the origin,

    s_{i,h} = |log(actual / forecast)| / σ_{i,h},   σ_{i,h} from ``VolModel`` (EWMA | GARCH),

so the band is ``forecast · exp(± q_h · σ_{i,h})``: it widens the day volatility rises.
Adaptive conformal inference (Gibbs & Candès, 2021) then corrects what normalising
misses: per horizon, the miscoverage level moves by ``gamma · (α - miss)`` each time an
outcome becomes known (origin i's h-day outcome is known at origin i + h, never before),
and new scores join the calibration pool. ``gamma = 0`` keeps the widths fixed.

An :class:`IntervalState` is everything a forecast needs (method, quantiles, the
volatility model's numbers and its last variance) as plain JSON; from a history the
variance is recomputed, so a model loaded from TF.js forecasts the same intervals.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from coincast.errors import ParameterError
from coincast.forecast.intervals import extend_quantiles
from coincast.forecast.volatility import VolModel, fit_garch, log_returns
from coincast.json_values import finite_list

__all__ = ["INTERVAL_METHODS", "IntervalMethod", "IntervalState", "adaptive_quantiles", "rank_q"]

IntervalMethod = Literal["split", "ewma", "garch"]
INTERVAL_METHODS: tuple[str, ...] = ("split", "ewma", "garch")
DESCRIPTIONS = {
    "split": "split-conformal, absolute log residuals, validation period",
    "ewma": "conformal on log residuals normalised by an EWMA volatility forecast",
    "garch": "conformal on log residuals normalised by a GARCH(1,1)-t volatility forecast",
}


def rank_q(
    sorted_scores: list[float] | NDArray[np.float64], alpha: float, cap: bool = False
) -> float:
    """The ⌈(n+1)(1-α)⌉-th smallest score: ∞ when the rank exceeds n (or α ≤ 0), 0 if α ≥ 1.

    ``cap``: the largest score instead of ∞ (adaptive updating: after a run of misses
    ACI asks for more than the pool holds; an infinite band would tell a user nothing).
    """
    n = len(sorted_scores)
    if alpha >= 1.0:
        return 0.0
    k = math.ceil((n + 1) * (1.0 - alpha)) if alpha > 0 else n + 1
    if cap and n:
        k = min(k, n)
    return float(sorted_scores[k - 1]) if 1 <= k <= n else math.inf


def adaptive_quantiles(
    cal: NDArray[np.float64], scores: NDArray[np.float64], alpha: float, gamma: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Online quantiles per origin and horizon.

    cal [n, H] calibration scores, scores [N, H] the scored period's (NaN = not known);
    → (q [N, H] used at each origin, q_next [H] for the next forecast, alpha_t [H]).
    With gamma = 0 every origin uses the calibration quantile and nothing updates.
    """
    n_orig, horizon = scores.shape
    q = np.empty((n_orig, horizon))
    q_next = np.empty(horizon)
    alpha_t = np.full(horizon, alpha)
    for h in range(horizon):
        pool = sorted(float(v) for v in cal[:, h] if math.isfinite(v))
        a = alpha
        if gamma <= 0:
            q[:, h] = q_next[h] = rank_q(pool, a)
            continue
        for i in range(n_orig):
            j = i - h - 1  # origin whose (h+1)-day outcome is the day of origin i
            if j >= 0 and math.isfinite(scores[j, h]):
                a += gamma * (alpha - float(scores[j, h] > q[j, h]))
                bisect.insort(pool, float(scores[j, h]))
            q[i, h] = rank_q(pool, a, cap=True)
        for j in range(max(n_orig - h - 1, 0), n_orig):  # outcomes known after the last origin
            if math.isfinite(scores[j, h]):
                a += gamma * (alpha - float(scores[j, h] > q[j, h]))
                bisect.insort(pool, float(scores[j, h]))
        alpha_t[h], q_next[h] = a, rank_q(pool, a, cap=True)
    return q, q_next, alpha_t


@dataclass
class IntervalState:
    """What the intervals of a fitted forecaster are made of (JSON via ``to_dict``)."""

    method: IntervalMethod = "split"
    level: float = 0.9
    gamma: float = 0.0
    quantiles: NDArray[np.float64] = field(default_factory=lambda: np.full(1, np.inf))
    vol: VolModel | None = None
    last_var: float | None = None  # σ²_{T+1|T} at the last day the fit knew
    alpha_t: list[float] | None = None

    @classmethod
    def fit_vol(
        cls, method: str, returns: NDArray[np.float64], lam: float, clip: float | None = None
    ) -> VolModel | None:
        """The volatility model for ``method`` on returns known before the scored period."""
        if method not in INTERVAL_METHODS:
            raise ParameterError(
                f"unknown interval method {method!r}; choose from {', '.join(INTERVAL_METHODS)}."
            )
        if method == "split":
            return None
        if method == "garch":
            garch = fit_garch(returns)
            if garch is not None:
                return garch
        return VolModel.ewma(returns, lam, clip)  # GARCH that cannot be fitted falls back

    def scale(
        self, price: NDArray[np.float64], at: NDArray[np.intp], h: int
    ) -> NDArray[np.float64]:
        """σ_{i,k} [N, h] for origins ``at`` of ``price`` (ones for split-conformal)."""
        if self.vol is None:
            return np.ones((at.size, h))
        return self.vol.horizon_scale(self.vol.next_variance(log_returns(price))[at], h)

    def variance_at(self, price: NDArray[np.float64], last: int) -> float | None:
        """σ²_{last+1|last} from the returns of ``price`` up to day ``last``."""
        if self.vol is None:
            return None
        return float(self.vol.next_variance(log_returns(price[: last + 1]))[-1])

    def extend(self, q: NDArray[np.float64], horizon: int) -> NDArray[np.float64]:
        """Quantiles [..., H0] → [..., horizon]: beyond the calibrated horizons split-conformal
        grows by √h (random walk); a normalised score's scale already grows, so q is held."""
        h0 = q.shape[-1]
        if horizon <= h0:
            return q[..., :horizon]
        k = np.arange(h0 + 1, horizon + 1, dtype=np.float64)
        growth = np.ones_like(k) if self.vol is not None else np.sqrt(k / h0)
        return np.concatenate([q, q[..., -1:] * growth], axis=-1)

    def bounds(
        self, paths: NDArray[np.float64], price: NDArray[np.float64], at: NDArray[np.intp]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Fixed-quantile bounds [N, H] for forecasts from origins ``at`` of ``price``."""
        h = paths.shape[1]
        width = self.extend(np.asarray(self.quantiles, dtype=np.float64), h)
        width = width[None, :] * self.scale(price, at, h)
        return paths * np.exp(-width), paths * np.exp(width)

    def widths(self, horizon: int, last_var: float | None = None) -> NDArray[np.float64]:
        """Half-widths in log space [horizon] for one forecast after the last known day."""
        if self.vol is None:
            return extend_quantiles(self.quantiles, horizon)
        q = self.extend(np.asarray(self.quantiles, dtype=np.float64), horizon)
        s2 = self.last_var if last_var is None else last_var
        s2 = self.vol.var0 if s2 is None else s2
        out: NDArray[np.float64] = q * self.vol.horizon_scale(np.array([s2]), horizon)[0]
        return out

    def widths_for(self, price: NDArray[np.float64], horizon: int) -> NDArray[np.float64]:
        """Widths for a forecast after the last day of ``price`` (its variance recomputed)."""
        if self.vol is None:
            return self.widths(horizon)
        return self.widths(horizon, float(self.vol.next_variance(log_returns(price))[-1]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": DESCRIPTIONS[self.method],
            "kind": self.method,
            "level": self.level,
            "aci_gamma": self.gamma,
            "quantiles": finite_list(self.quantiles),
            "volatility": None if self.vol is None else self.vol.to_dict(),
            "last_variance": self.last_var,
            "aci_alpha": self.alpha_t,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IntervalState:
        """Older models carry only split-conformal quantiles: they load as ``split``."""
        kind = data.get("kind", "split")
        if kind not in INTERVAL_METHODS:
            raise ParameterError(f"unknown interval method {kind!r}")
        q = np.array([np.inf if v is None else float(v) for v in data["quantiles"]])
        vol = data.get("volatility")
        last = data.get("last_variance")
        return cls(
            kind,
            float(data.get("level", 0.9)),
            float(data.get("aci_gamma", 0.0)),
            q,
            None if vol is None else VolModel.from_dict(vol),
            None if last is None else float(last),
            data.get("aci_alpha"),
        )
