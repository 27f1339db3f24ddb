"""Fit one forecaster per coin for many coins, with the engine the caller picks.

- ``sequential`` (``coincast.scale.sequential``): ``Forecaster.fit`` per coin, the reference;
- ``batched`` (``coincast.scale.batched``): every coin's network trained as one computation,
  each equal to its sequential run within float tolerance (models without dropout only;
  others fall back to sequential);
- ``ray`` (``coincast.scale.ray_tasks``): the sequential body as Ray tasks, local or on a
  cluster.

Every engine returns the same :class:`~coincast.scale.results.CoinResult` per coin, so the
CLI, the benchmark and the Ray tasks share one summary and one saver.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd

from coincast.errors import ParameterError
from coincast.model.presets import get_preset
from coincast.scale.results import CoinResult, OnProgress, OnResult
from coincast.scale.sequential import fit_coin

__all__ = ["ENGINES", "Engine", "fit_many"]

Engine = Literal["batched", "sequential", "ray"]
ENGINES: tuple[str, ...] = ("batched", "sequential", "ray")


def fit_many(
    histories: Mapping[str, pd.DataFrame],
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    engine: Engine = "batched",
    split: Mapping[str, Any] | None = None,
    on_result: OnResult | None = None,
    on_progress: OnProgress | None = None,
    ray_address: str | None = None,
) -> list[CoinResult]:
    """One forecaster per coin with the chosen engine, results in the histories' order.

    ``on_result`` sees each coin's result as soon as it is final (save it there, so a
    failure later loses nothing); ``on_progress`` drives one overall progress bar.
    """
    overrides = dict(overrides or {})
    split = dict(split or {})
    if engine not in ENGINES:
        raise ParameterError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}.")
    if engine == "ray":
        from coincast.scale.ray_tasks import fit_many_ray

        return fit_many_ray(
            histories,
            preset,
            overrides,
            split=split,
            on_result=on_result,
            on_progress=on_progress,
            address=ray_address,
        )
    if engine == "batched" and get_preset(preset, **overrides).dropout == 0:
        from coincast.scale.batched import fit_batched

        return fit_batched(histories, preset, overrides, split, on_result, on_progress)
    results = []
    for k, (coin, history) in enumerate(histories.items()):

        def epoch_progress(r: Any, k: int = k, coin: str = coin) -> None:
            if on_progress is not None:
                on_progress(k + r.epoch / r.epochs, f"{coin}: epoch {r.epoch}/{r.epochs}")

        res = fit_coin(coin, history, preset, overrides, split=split, on_epoch=epoch_progress)
        results.append(res)
        if on_result is not None:
            on_result(res)
    return results
