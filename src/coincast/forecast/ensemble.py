"""Ensembles: several forecasters' paths averaged, with intervals of their own.

Members are LSTM forecasters (one preset with several seeds, several presets) and the
statistical models (``"ets"``, ``"arima"``: ``coincast.forecast.statistical``). Each
LSTM member is fitted exactly as alone (``Forecaster.plan → train → finish``, so it has
its own shrink weight and evaluation); the ensemble's point forecast is the mean of the
members' price paths. Averaging changes the residuals, so the members' intervals do not
carry over: the ensemble calibrates its own on *its* validation residuals through the
same machinery (``calibration.calibrate`` / ``walk``), over the validation days that are
out of sample for every member (the latest member's validation start), and is scored on
the test period beside naive, drift, the constant band and GARCH(1,1)-t like any model.

Export: an ensemble is several networks plus a rule, and a TF.js layers model is one
network, so ``export`` raises a ``ParameterError`` saying so; save the members one by one
(``ensemble.members[i].export()``) to keep them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from coincast.errors import ModelError, ParameterError
from coincast.forecast import statistical, walkforward
from coincast.forecast.calibration import calibrate_as, walk
from coincast.forecast.evaluate import Evaluation
from coincast.forecast.forecast import forecast_frame
from coincast.forecast.forecaster import ALPHA, EVAL_HORIZON, INTERVAL_HORIZON, MAX_DAYS, Forecaster
from coincast.forecast.plan import FitPlan
from coincast.forecast.risk import IntervalState
from coincast.model.presets import get_preset
from coincast.prep.dataset import Prepared

__all__ = ["Ensemble"]

SEED0 = 42


class Ensemble:
    """Average of LSTM presets × seeds and statistical models, with its own intervals.

    >>> Ensemble.of_seeds("shrunk", 3).fit(history, coin="bitcoin")    # doctest: +SKIP
    >>> Ensemble(["shrunk", "ets"]).fit(history).forecast(7)            # doctest: +SKIP
    """

    def __init__(
        self, members: Sequence[str], seeds: Sequence[int] = (SEED0,), **overrides: Any
    ) -> None:
        if not members or not seeds:
            raise ParameterError("an ensemble needs at least one member and one seed.")
        self.presets = [m for m in members if m not in statistical.KINDS]
        self.stat_kinds: list[str] = [m for m in members if m in statistical.KINDS]
        for name in self.presets:
            get_preset(name, **overrides)  # an unknown preset or setting fails here, early
        self.seeds = [int(s) for s in seeds]
        self.overrides = overrides
        self.members: list[Forecaster] = []
        self.intervals = IntervalState(quantiles=np.full(INTERVAL_HORIZON, np.inf))
        self.evaluation: Evaluation | None = None
        self._price: NDArray[np.float64] | None = None
        self._last_date: pd.Timestamp | None = None
        self._stat_configs: dict[str, tuple[Any, ...]] = {}
        self.test_paths = np.full((0, EVAL_HORIZON), np.nan)  # scored paths, after assemble

    @classmethod
    def of_seeds(cls, preset: str, k: int, **overrides: Any) -> Ensemble:
        """``k`` copies of one preset with seeds 42, 43, …"""
        return cls([preset], seeds=range(SEED0, SEED0 + k), **overrides)

    @property
    def name(self) -> str:
        seeds = f"×{len(self.seeds)} seeds" if len(self.seeds) > 1 else ""
        return "+".join(self.presets + self.stat_kinds) + seeds

    def fit(
        self,
        history: pd.DataFrame,
        *,
        coin: str | None = None,
        test_start: str | pd.Timestamp | None = None,
        horizon: int = EVAL_HORIZON,
    ) -> Ensemble:
        """Fit every LSTM member on the history (as ``Forecaster.fit`` would), then combine."""
        fitted: list[tuple[Forecaster, FitPlan]] = []
        for name in self.presets:
            for seed in self.seeds:
                fc = Forecaster(name, **{**self.overrides, "seed": seed})
                plan = fc.plan(history, coin=coin, test_start=test_start, horizon=horizon)
                fitted.append((fc.finish(plan, plan.train()), plan))
        return self.assemble(fitted, horizon=horizon)

    def assemble(
        self,
        fitted: Sequence[tuple[Forecaster, FitPlan]],
        *,
        horizon: int = EVAL_HORIZON,
        prep: Prepared | None = None,
    ) -> Ensemble:
        """Combine already fitted members (each with the plan it was fitted from): the
        statistical members walked, the ensemble's intervals calibrated and scored.

        With no LSTM member (a statistical model alone, scored like any model) pass the
        ``prep`` that fixes the periods; intervals then follow the default preset's method.
        """
        self.members = [fc for fc, _ in fitted]
        preps = [plan.prep for _, plan in fitted] or ([prep] if prep is not None else [])
        if not preps or not self.members + self.stat_kinds:
            raise ParameterError("assemble needs a fitted member, or a prep and a statistical one.")
        prep = preps[0]
        b = prep.bounds
        val_start = max(p.bounds.val_start for p in preps)
        first = walkforward.origins(val_start, b.test_start)
        first_day = int(first[0]) + 1 if first.size else b.test_start
        self._stat_configs = {
            k: statistical.choose(k, np.log(prep.price[:first_day])) for k in self.stat_kinds
        }
        val = walkforward.origins(val_start, b.test_start)
        hmax = INTERVAL_HORIZON
        p = self.members[0].preset if self.members else get_preset(None, **self.overrides)
        paths = actual = np.full((0, hmax), np.nan)
        if val.size:
            paths = self.paths(prep, val, hmax)
            actual = walkforward.actuals(prep, val, hmax, b.test_start)
        self.intervals, cal = calibrate_as(
            p, prep.price, val, paths, actual, known=b.test_start, alpha=ALPHA
        )
        last = max(b.end, b.test_start) - 1
        last = len(prep.dates) - 1 if not fitted or fitted[0][1].end is None else last
        self._price, self._last_date = prep.price[: last + 1], pd.Timestamp(prep.dates[last])
        self.evaluation = None
        if b.end <= b.test_start:
            self.intervals.last_var = self.intervals.variance_at(prep.price, last)
            return self
        test = walkforward.origins(b.test_start, b.end)
        h = max(horizon, hmax)
        model = self.paths(prep, test, h)
        act = walkforward.actuals(prep, test, h, b.end)
        lower, upper = walk(self.intervals, cal, prep.price, test, model, act, last=last)
        self.test_paths = model[:, :horizon]
        self.evaluation = walkforward.score(
            prep,
            test,
            model[:, :horizon],
            stop=b.end,
            lower=lower[:, :horizon],
            upper=upper[:, :horizon],
            alpha=ALPHA,
            interval_method=p.intervals,
        )
        return self

    def paths(self, prep: Prepared, at: NDArray[np.intp], h: int) -> NDArray[np.float64]:
        """The members' mean price path [N, h] from each origin (each knowing only its past)."""
        return np.asarray(np.mean(self.member_paths(prep, at, h), axis=0), dtype=np.float64)

    @property
    def n_members(self) -> int:
        return len(self.members) + len(self.stat_kinds)

    def member_paths(
        self, prep: Prepared, at: NDArray[np.intp], h: int
    ) -> list[NDArray[np.float64]]:
        """Each member's paths [N, h]: LSTM members first, then the statistical ones."""
        out = []
        for fc in self.members:
            assert fc.model is not None and fc.spec is not None
            out.append(walkforward.paths(fc.model, fc.spec, prep, at, h))
        for kind in self.stat_kinds:
            out.append(statistical.walk_paths(kind, prep.price, at, h, self._stat_configs[kind]))
        return out

    def forecast(self, days: int = 7) -> pd.DataFrame:
        """Forecast ``days`` days after the last known day → the same frame as a
        ``Forecaster``'s (date, forecast, lower, upper, naive)."""
        if self._price is None or self._last_date is None:
            raise ModelError("this ensemble is not fitted; call .fit(history) first.")
        if not 1 <= days <= MAX_DAYS:
            raise ParameterError(f"days must be between 1 and {MAX_DAYS}, got {days}.")
        paths = [fc.forecast(days)["forecast"].to_numpy(dtype=np.float64) for fc in self.members]
        at = np.array([len(self._price) - 1], dtype=np.intp)
        for kind in self.stat_kinds:
            cfg = self._stat_configs[kind]
            paths.append(statistical.walk_paths(kind, self._price, at, days, cfg)[0])
        path = np.mean(paths, axis=0)
        width = self.intervals.widths(days)
        out = forecast_frame(
            self._last_date, path, path * np.exp(-width), path * np.exp(width), self._price[-1]
        )
        out.attrs["level"] = 1.0 - ALPHA
        return out

    def export(self, extra: dict[str, Any] | None = None) -> tuple[bytes, bytes]:
        """Always refused: see the module docstring."""
        raise ParameterError(
            f"an ensemble ({self.name}) cannot be saved as one TF.js model: TF.js layers hold "
            "one network, and an ensemble is several plus a rule that averages them. Save "
            "each member on its own (ensemble.members[i].export()) or save one preset."
        )
