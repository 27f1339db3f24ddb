"""One coin at a time: the reference engine, and the body of every Ray task."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from coincast.errors import CoincastError
from coincast.forecast.forecaster import Forecaster
from coincast.model.schedule import OnEpoch
from coincast.scale.results import CoinResult, summarise

__all__ = ["fit_coin"]


def fit_coin(
    coin: str,
    history: pd.DataFrame,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    split: Mapping[str, Any] | None = None,
    on_epoch: OnEpoch | None = None,
) -> CoinResult:
    """Fit one coin's forecaster: plan, train, finish, summarise.

    ``split`` may fix ``val_start``/``test_start``/``end`` dates. A ``CoincastError``
    (too little history, bad settings) becomes ``ok=False`` with its message; anything
    else propagates, so a Ray task can be retried on it.
    """
    start = time.perf_counter()
    try:
        fc = Forecaster(preset, **dict(overrides or {}))
        plan = fc.plan(history, coin=coin, **dict(split or {}))
        fc.finish(plan, plan.train(on_epoch))
        return summarise(coin, fc, plan, time.perf_counter() - start)
    except CoincastError as exc:
        return CoinResult(coin=coin, ok=False, message=str(exc))
