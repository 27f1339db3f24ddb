"""Score forecasts beside naive and drift on the same origins, and say plainly who wins.

A table of errors is not a verdict: the Diebold–Mariano test (with the Harvey,
Leybourne & Newbold small-sample correction and a t distribution) asks whether the
model's squared errors are lower than naive's by more than chance. Multi-day errors from
overlapping origins are autocorrelated, so the variance uses h-1 autocovariance lags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from coincast.forecast import metrics
from coincast.forecast.intervals import coverage, winkler
from coincast.json_values import finite

__all__ = ["DMResult", "Evaluation", "diebold_mariano", "score_paths"]

SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class DMResult:
    """Diebold–Mariano comparison of the model against naive at one horizon."""

    horizon: int
    statistic: float
    p_value: float  # two-sided
    n: int
    better: Literal["model", "naive", "neither"]

    def message(self) -> str:
        h = f"{self.horizon}-day"
        if self.better == "model":
            return (
                f"The model beats naive at {h} forecasts (Diebold–Mariano p = {self.p_value:.3g})."
            )
        if self.better == "naive":
            return (
                f"Naive (tomorrow = today) beats the model at {h} forecasts "
                f"(Diebold–Mariano p = {self.p_value:.3g}); do not use this model."
            )
        return (
            f"No evidence that the model beats naive at {h} forecasts (Diebold–Mariano "
            f"p = {self.p_value:.3g}); treat it as no better than tomorrow = today."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "horizon": self.horizon,
            "statistic": finite(self.statistic),
            "p_value": finite(self.p_value),
            "n": self.n,
            "better": self.better,
            "message": self.message(),
        }


def diebold_mariano(
    e_model: NDArray[np.float64],
    e_naive: NDArray[np.float64],
    horizon: int = 1,
    alpha: float = SIGNIFICANCE,
) -> DMResult:
    """Test equal squared-error accuracy; e_* are forecast errors [N] (NaN ignored)."""
    a = np.asarray(e_model, dtype=np.float64)
    b = np.asarray(e_naive, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] ** 2 - b[ok] ** 2  # loss differential: negative = model better
    n = int(d.size)
    if n < 3 or not np.any(d):
        return DMResult(horizon, 0.0, 1.0, n, "neither")
    dc = d - d.mean()
    var = float(np.mean(dc * dc))
    for lag in range(1, min(horizon, n)):
        var += 2.0 * float(np.mean(dc[lag:] * dc[:-lag]))
    if var <= 0:
        var = float(np.mean(dc * dc))
    if var <= 0:
        return DMResult(horizon, 0.0, 1.0, n, "neither")
    stat = float(d.mean()) / np.sqrt(var / n)
    h = horizon
    hln = np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n) if n + 1 - 2 * h > 0 else 1.0
    stat *= float(hln)
    p = float(2.0 * stats.t.sf(abs(stat), df=n - 1))
    better: Literal["model", "naive", "neither"] = "neither"
    if p < alpha:
        better = "model" if stat < 0 else "naive"
    return DMResult(horizon, stat, p, n, better)


@dataclass(frozen=True)
class Evaluation:
    """Errors per horizon for model, naive and drift on the same held-out origins."""

    table: pd.DataFrame  # columns: horizon, method, rmse, mae, mape, smape, mase, direction
    dm: list[DMResult]  # one per horizon
    coverage: list[float] = field(default_factory=list)  # interval coverage per horizon
    alpha: float = 0.1
    n_origins: int = 0
    start: str | None = None
    end: str | None = None
    interval_method: str | None = None
    # mean Winkler score per horizon (fraction of the origin price): model, band, garch
    winkler: dict[str, list[float]] = field(default_factory=dict)
    baseline_coverage: dict[str, list[float]] = field(default_factory=dict)  # band, garch

    @property
    def verdict(self) -> str:
        return self.dm[0].message() if self.dm else "No held-out data to evaluate on."

    def winkler_ratio(self, baseline: str, horizon: int) -> float:
        """The model's Winkler score over the baseline's at ``horizon`` (< 1: model better)."""
        try:
            ratio = self.winkler["model"][horizon - 1] / self.winkler[baseline][horizon - 1]
        except (KeyError, IndexError, ZeroDivisionError):
            return float("nan")
        return float(ratio)

    @property
    def risk_verdict(self) -> str:
        """The intervals in plain words: coverage, then interval score beside the baselines."""
        if not self.coverage:
            return "No intervals were scored on held-out data."
        shown = [h for h in (1, 7) if h <= len(self.coverage)]
        level = f"{100 * (1 - self.alpha):.0f} %"
        days = " and ".join(f"{h}-day" for h in shown)
        cov = " and ".join(f"{100 * self.coverage[h - 1]:.0f} %" for h in shown)
        parts = [f"The model's {level} intervals held {cov} of {days} outcomes."]
        names = {"garch": "GARCH(1,1)-t's", "band": "the constant band's"}
        model_w = self.winkler.get("model", [])[: max(shown)]
        if model_w and not np.all(np.isfinite(model_w)):
            parts.append(
                "Some of its intervals are unbounded (too little validation data to calibrate "
                "them), so its risk forecast does not beat any baseline."
            )
        elif not any(np.isfinite([self.winkler_ratio(k, h) for k in names for h in shown])):
            parts.append(
                "Too little history before this period to score GARCH or a constant band, "
                "so whether the model's risk forecast beats them is unknown."
            )
        for key, name in names.items():
            ratios = [self.winkler_ratio(key, h) for h in shown]
            if not all(np.isfinite(ratios)):
                continue
            txt = " and ".join(f"{r:.2f}×" for r in ratios)
            word = "beats" if max(ratios) < 1 else "loses to" if min(ratios) > 1 else "ties"
            parts.append(
                f"Interval score {txt} {name} (lower is better): the model's risk forecast "
                f"{word} {'GARCH' if key == 'garch' else 'the band'}."
            )
        return " ".join(parts)

    def metric(self, method: str, horizon: int, name: str) -> float:
        row = self.table[(self.table["method"] == method) & (self.table["horizon"] == horizon)]
        return float(row[name].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (no NaN): what goes into ``metadata()["metrics"]``."""
        rows = [
            {k: (finite(v) if isinstance(v, float) else v) for k, v in rec.items()}
            for rec in self.table.to_dict(orient="records")
        ]
        return {
            "period": {"start": self.start, "end": self.end, "origins": self.n_origins},
            "table": rows,
            "diebold_mariano": [r.to_dict() for r in self.dm],
            "interval_level": 1.0 - self.alpha,
            "interval_coverage": [finite(c) for c in self.coverage],
            "interval_method": self.interval_method,
            "interval_score": {k: [finite(v) for v in vs] for k, vs in self.winkler.items()},
            "interval_baseline_coverage": {
                k: [finite(v) for v in vs] for k, vs in self.baseline_coverage.items()
            },
            "verdict": self.verdict,
            "risk_verdict": self.risk_verdict,
        }


def score_paths(
    actual: NDArray[np.float64],
    forecasts: dict[str, NDArray[np.float64]],
    base: NDArray[np.float64],
    scale: float,
    *,
    lower: NDArray[np.float64] | None = None,
    upper: NDArray[np.float64] | None = None,
    alpha: float = 0.1,
    start: str | None = None,
    end: str | None = None,
    interval_baselines: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] | None = None,
    interval_method: str | None = None,
) -> Evaluation:
    """actual and each forecast [N, H] USD (NaN past the data); base [N] = last known price.

    ``forecasts`` must contain "model" and "naive"; other baselines (drift) are scored too.
    ``interval_baselines`` (name → lower, upper) are scored on the same origins.
    """
    horizon = actual.shape[1]
    rows: list[dict[str, Any]] = []
    for h in range(horizon):
        for method, pred in forecasts.items():
            a, p = actual[:, h], pred[:, h]
            rows.append(
                {
                    "horizon": h + 1,
                    "method": method,
                    "rmse": metrics.rmse(a, p),
                    "mae": metrics.mae(a, p),
                    "mape": metrics.mape(a, p),
                    "smape": metrics.smape(a, p),
                    "mase": metrics.mase(a, p, scale),
                    "direction": metrics.directional_accuracy(a, p, base),
                    "n": int(np.sum(np.isfinite(a) & np.isfinite(p))),
                }
            )
    dm = [
        diebold_mariano(
            actual[:, h] - forecasts["model"][:, h], actual[:, h] - forecasts["naive"][:, h], h + 1
        )
        for h in range(horizon)
    ]
    cov: list[float] = []
    wink: dict[str, list[float]] = {}
    base_cov: dict[str, list[float]] = {}
    if lower is not None and upper is not None:
        cov = [float(c) for c in coverage(actual, lower, upper)]
        wink["model"] = [float(w) for w in winkler(actual, lower, upper, base, alpha)]
        for name, (lo, hi) in (interval_baselines or {}).items():
            known = np.where(np.isfinite(lo) & np.isfinite(hi), actual, np.nan)
            wink[name] = [float(w) for w in winkler(known, lo, hi, base, alpha)]
            base_cov[name] = [float(c) for c in coverage(known, lo, hi)]
    return Evaluation(
        table=pd.DataFrame(rows),
        dm=dm,
        coverage=cov,
        alpha=alpha,
        n_origins=int(actual.shape[0]),
        start=start,
        end=end,
        interval_method=interval_method,
        winkler=wink,
        baseline_coverage=base_cov,
    )
