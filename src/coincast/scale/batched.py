"""Many coins' paper models as one computation: plan each, train all at once, finish each.

The paper model is tiny, so one model's training step is mostly per-op overhead; all
coins' networks train together in ``coincast.model.fast.batched.train_many`` (weights
stacked along a model axis), and each equals its sequential run within float tolerance.
Every coin goes through the same ``Forecaster.plan`` / ``Forecaster.finish`` as a
sequential fit, so calibration, evaluation and export cannot differ. Models with dropout
cannot be batched exactly; ``coincast.scale.engines`` runs them sequentially.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from coincast.errors import CoincastError
from coincast.forecast.forecaster import Forecaster
from coincast.forecast.plan import FitPlan
from coincast.model.fast.batched import BatchedEpochReport, train_many
from coincast.model.schedule import TrainResult
from coincast.scale.results import CoinResult, OnProgress, OnResult, summarise

__all__ = ["fit_batched"]


def fit_batched(
    histories: Mapping[str, pd.DataFrame],
    preset: str | None,
    overrides: Mapping[str, Any],
    split: Mapping[str, Any],
    on_result: OnResult | None = None,
    on_progress: OnProgress | None = None,
) -> list[CoinResult]:
    """One forecaster per coin, trained jointly; results in the histories' order."""
    results: dict[str, CoinResult] = {}
    start = time.perf_counter()

    def done(res: CoinResult) -> None:
        results[res.coin] = res
        if on_result is not None:
            on_result(res)

    planned: dict[str, tuple[Forecaster, FitPlan]] = {}
    for coin, history in histories.items():
        fc = Forecaster(preset, **overrides)
        try:
            planned[coin] = fc, fc.plan(history, coin=coin, **split)
        except CoincastError as exc:
            done(CoinResult(coin=coin, ok=False, message=str(exc)))
    plans = {coin: plan for coin, (_, plan) in planned.items()}
    trained = _train_jointly(plans, len(results), on_progress)
    share = (time.perf_counter() - start) / max(len(planned), 1)
    for coin, (fc, plan) in planned.items():
        t0 = time.perf_counter()
        try:
            fc.finish(plan, trained[coin])
            res = summarise(coin, fc, plan, share + time.perf_counter() - t0)
        except CoincastError as exc:
            res = CoinResult(coin=coin, ok=False, message=str(exc))
        done(res)
    return [results[c] for c in histories if c in results]


def _train_jointly(
    plans: Mapping[str, FitPlan], done_before: int, on_progress: OnProgress | None
) -> dict[str, TrainResult]:
    """``train_many`` over the plans, in groups that all have validation data or none
    (the joint loop needs one rule for early stopping across a group)."""
    groups: dict[bool, list[str]] = {}
    for coin, plan in plans.items():
        groups.setdefault(plan.has_validation, []).append(coin)
    trained: dict[str, TrainResult] = {}
    base = float(done_before)
    for coins in groups.values():

        def progress(r: BatchedEpochReport, n: int = len(coins), base: float = base) -> None:
            if on_progress is not None:
                frac = base + n * r.epoch / r.epochs
                on_progress(frac, f"epoch {r.epoch}/{r.epochs}, {r.active} models training")

        out = train_many(
            [plans[c].model for c in coins],
            [plans[c].data for c in coins],
            plans[coins[0]].config,
            on_epoch=progress,
        )
        trained.update(zip(coins, out, strict=True))
        base += len(coins)
    return trained
