"""Skill claims over a panel of coins: a pooled Diebold–Mariano test and a binomial test.

One coin's year rarely decides anything; many coins' years can, if they are pooled with
care. Squared errors are divided by each coin's naive mean squared error first (a
bitcoin dollar is not a dogecoin dollar), each coin's loss differential keeps its own
autocorrelation-robust variance (h-1 lags), and coins are treated as independent:
stat = Σ nᵢ·d̄ᵢ / √(Σ nᵢ·σ̂ᵢ²) ~ N(0, 1). Direction is a binomial test of the pooled hits
against a coin flip. Both say "no evidence" unless p < 0.05: a random-walk panel must
get no claim (tests/forecast/test_risk.py checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from coincast.forecast.evaluate import SIGNIFICANCE, DMResult

__all__ = ["direction_test", "pooled_dm"]


def pooled_dm(
    e_model: Sequence[NDArray[np.float64]],
    e_naive: Sequence[NDArray[np.float64]],
    horizon: int = 1,
    alpha: float = SIGNIFICANCE,
) -> DMResult:
    """Per-coin forecast errors [Nᵢ] (NaN ignored) → one pooled comparison against naive."""
    num, var_sum, n_total = 0.0, 0.0, 0
    for a, b in zip(e_model, e_naive, strict=True):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        ok = np.isfinite(a) & np.isfinite(b)
        scale = float(np.mean(b[ok] ** 2)) if ok.any() else 0.0
        if ok.sum() < 3 or scale <= 0:
            continue
        d = (a[ok] ** 2 - b[ok] ** 2) / scale
        n = d.size
        dc = d - d.mean()
        var = float(np.mean(dc * dc))
        for lag in range(1, min(horizon, n)):
            var += 2.0 * float(np.mean(dc[lag:] * dc[:-lag]))
        var = max(var, float(np.mean(dc * dc)) / n)
        num += n * float(d.mean())
        var_sum += n * var
        n_total += n
    if n_total == 0 or var_sum <= 0:
        return DMResult(horizon, 0.0, 1.0, n_total, "neither")
    stat = num / np.sqrt(var_sum)
    p = float(2.0 * stats.norm.sf(abs(stat)))
    better: Literal["model", "naive", "neither"] = "neither"
    if p < alpha:
        better = "model" if stat < 0 else "naive"
    return DMResult(horizon, float(stat), p, n_total, better)


def direction_test(hits: int, n: int, alpha: float = SIGNIFICANCE) -> tuple[float, float, str]:
    """Pooled direction hits of n calls → (accuracy, two-sided binomial p, sentence)."""
    if n <= 0:
        return float("nan"), 1.0, "No direction calls to test."
    p = float(stats.binomtest(hits, n, 0.5).pvalue)
    acc = hits / n
    if p < alpha and acc > 0.5:
        say = f"Direction is right {100 * acc:.1f} % of the time, better than a coin flip"
    elif p < alpha:
        say = f"Direction is right only {100 * acc:.1f} % of the time, worse than a coin flip"
    else:
        say = f"Direction is right {100 * acc:.1f} % of the time: no better than a coin flip"
    return acc, p, f"{say} (binomial p = {p:.3g}, n = {n})."
