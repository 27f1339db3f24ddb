"""Fit one forecaster per coin for many coins: one after another, or as one batched run.

Every engine produces the same thing per coin, a :class:`CoinResult` with the TF.js
model files ready for the model store and its errors beside naive, so the CLI, the
benchmark and the Ray tasks (``coincast.scale.ray_tasks``) share one summary and one saver.

- ``sequential``: ``Forecaster.fit`` per coin, the reference.
- ``batched``: the paper model is tiny, so a step of one model is mostly per-op overhead.
  All coins' models train together in ``coincast.model.fast.batched.train_many`` (weights
  stacked along a model axis); each model equals its sequential run within float
  tolerance. It needs every coin's samples before any model trains, so each forecaster
  is fitted twice around one joint training run: first to *capture* its prepared
  samples (``fit`` stops at training), then to *replay* the jointly trained weights
  (``fit`` continues with shrink, conformal calibration and evaluation as usual).
  Models with dropout cannot be batched exactly and fall back to ``sequential``.

Errors reported per coin are walk-forward MAPE averaged over horizons 1..7, on the
validation period (what tuning may look at) and on the test period (looked at once).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from coincast.errors import CoincastError, InvalidRequestError
from coincast.forecast import metrics
from coincast.forecast.forecast import ForecastSpec, predict_paths
from coincast.forecast.forecaster import EVAL_HORIZON, Forecaster
from coincast.model.lstm import LSTMRegressor
from coincast.model.schedule import CancelToken, OnEpoch, TrainConfig, TrainResult
from coincast.prep.dataset import Prepared, prepare

__all__ = [
    "ENGINES",
    "CoinResult",
    "Engine",
    "OnProgress",
    "OnResult",
    "fit_coin",
    "fit_many",
    "package",
    "val_scores",
]

Engine = Literal["batched", "sequential", "ray"]
ENGINES: tuple[str, ...] = ("batched", "sequential", "ray")

OnResult = Callable[["CoinResult"], None]
OnProgress = Callable[[float, str], None]
"""(coins done, fractional while a batched run is mid-way; a short note)."""


@dataclass(frozen=True)
class CoinResult:
    """One coin's outcome; ``ok=False`` carries the user-facing reason in ``message``."""

    coin: str
    ok: bool
    message: str | None = None
    val_mape: float | None = None  # model, walk-forward on validation, mean of h=1..7
    val_naive_mape: float | None = None
    test_mape: float | None = None  # model on the test period (same definition)
    test_naive_mape: float | None = None
    epochs_run: int = 0
    elapsed_s: float = 0.0  # this coin's share of the wall time
    model_json: bytes | None = None  # TF.js files, ready for ModelRegistry.save
    weights: bytes | None = None
    version: int | None = None  # set once saved to the model store

    def summary(self) -> dict[str, Any]:
        """The JSON-safe row of the summary table (no model bytes)."""
        row = dataclasses.asdict(self)
        row.pop("model_json")
        row.pop("weights")
        return row


def val_scores(
    model: LSTMRegressor, spec: ForecastSpec, prep: Prepared, horizon: int = EVAL_HORIZON
) -> tuple[float, float]:
    """Walk-forward MAPE (model, naive) over the validation origins, mean of h=1..horizon.

    Origins are the days before each validation day; a forecast day that falls in the
    test period is not scored (NaN), so nothing here ever reads a test price.
    """
    b = prep.bounds
    origins = np.arange(b.val_start - 1, b.test_start - 1, dtype=np.intp)
    if origins.size == 0:
        return float("nan"), float("nan")
    idx = origins[:, None] + np.arange(-spec.window, 1)[None, :]
    paths = predict_paths(
        model, spec, prep.price[idx], prep.volume[idx], prep.market_cap[idx], horizon
    )
    ahead = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    actual = np.full(ahead.shape, np.nan)
    known = ahead < b.test_start
    actual[known] = prep.price[ahead[known]]
    naive = np.repeat(prep.price[origins][:, None], horizon, axis=1)
    return _mean_mape(actual, paths), _mean_mape(actual, naive)


def _mean_mape(actual: NDArray[np.float64], pred: NDArray[np.float64]) -> float:
    per_h = [metrics.mape(actual[:, h], pred[:, h]) for h in range(actual.shape[1])]
    return float(np.nanmean(per_h)) if np.isfinite(per_h).any() else float("nan")


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def package(fc: Forecaster, extra: Mapping[str, Any] | None = None) -> tuple[bytes, bytes]:
    """The forecaster as TF.js files (model.json bytes, weights) for the model store."""
    from coincast.store.tfjs.write import to_tfjs

    if fc.model is None or fc.spec is None:
        raise InvalidRequestError("this forecaster is not fitted; nothing to package.")
    meta = {**fc.metadata(), **(extra or {})}
    doc, weights = to_tfjs(fc.model, fc.spec.window, meta)
    return json.dumps(doc).encode(), weights


def _summarise(
    coin: str, fc: Forecaster, history: pd.DataFrame, split: Mapping[str, Any], elapsed: float
) -> CoinResult:
    assert fc.model is not None and fc.spec is not None and fc.train_result is not None
    p = fc.preset
    prep = prepare(
        history, window=p.window, features=p.features, target=p.target, val_frac=p.val_frac,
        test_frac=p.test_frac, what=coin, **split,
    )  # fmt: skip
    val_m, val_n = val_scores(fc.model, fc.spec, prep)
    test_m = test_n = None
    if fc.evaluation is not None:
        table = fc.evaluation.table
        test_m = _finite(float(table.loc[table["method"] == "model", "mape"].mean()))
        test_n = _finite(float(table.loc[table["method"] == "naive", "mape"].mean()))
    model_json, weights = package(fc)
    return CoinResult(
        coin=coin, ok=True, val_mape=_finite(val_m), val_naive_mape=_finite(val_n),
        test_mape=test_m, test_naive_mape=test_n, epochs_run=fc.train_result.epochs_run,
        elapsed_s=elapsed, model_json=model_json, weights=weights,
    )  # fmt: skip


def fit_coin(
    coin: str,
    history: pd.DataFrame,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    split: Mapping[str, Any] | None = None,
    on_epoch: OnEpoch | None = None,
) -> CoinResult:
    """Fit one coin's forecaster (sequential engine; also the body of a Ray task).

    ``split`` may fix ``val_start``/``test_start``/``end`` dates. A ``CoincastError``
    (too little history, bad settings) becomes ``ok=False`` with its message; anything
    else propagates, so a Ray task can be retried on it.
    """
    split = dict(split or {})
    start = time.perf_counter()
    try:
        fc = Forecaster(preset, **dict(overrides or {}))
        fc.fit(history, on_epoch=on_epoch, coin=coin, **split)
        return _summarise(coin, fc, history, split, time.perf_counter() - start)
    except CoincastError as exc:
        return CoinResult(coin=coin, ok=False, message=str(exc))


class _Captured(Exception):
    """Raised by the capture stand-in to stop ``fit`` once the samples are known."""


@dataclass
class _Call:
    model: LSTMRegressor
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]
    config: TrainConfig


def _capture(calls: dict[str, _Call], coin: str) -> Callable[..., TrainResult]:
    def train_fn(
        model: LSTMRegressor,
        x: torch.Tensor,
        y: torch.Tensor,
        x_val: torch.Tensor | None = None,
        y_val: torch.Tensor | None = None,
        config: TrainConfig | None = None,
        on_epoch: OnEpoch | None = None,
        cancel: CancelToken | None = None,
    ) -> TrainResult:
        calls[coin] = _Call(model, (x, y, x_val, y_val), config or TrainConfig())
        raise _Captured

    return train_fn


def _replay(trained: TrainResult) -> Callable[..., TrainResult]:
    def train_fn(model: LSTMRegressor, *args: Any, **kwargs: Any) -> TrainResult:
        model.load_state_dict(trained.model.state_dict())
        model.eval()
        return dataclasses.replace(trained, model=model)

    return train_fn


def _fit_batched(
    histories: Mapping[str, pd.DataFrame],
    preset: str | None,
    overrides: Mapping[str, Any],
    split: Mapping[str, Any],
    on_result: OnResult | None,
    on_progress: OnProgress | None,
) -> list[CoinResult]:
    from coincast.model.fast.batched import BatchedEpochReport, train_many

    results: dict[str, CoinResult] = {}
    calls: dict[str, _Call] = {}
    start = time.perf_counter()

    def finish(res: CoinResult) -> None:
        results[res.coin] = res
        if on_result is not None:
            on_result(res)

    for coin, history in histories.items():  # 1. capture each coin's samples
        try:
            Forecaster(preset, **overrides).fit(
                history, coin=coin, train_fn=_capture(calls, coin), **split
            )
        except _Captured:
            continue
        except CoincastError as exc:
            finish(CoinResult(coin=coin, ok=False, message=str(exc)))
    # train_many needs validation for all models or none: group by that.
    groups: dict[bool, list[str]] = {}
    for coin, call in calls.items():
        groups.setdefault(call.data[2] is not None, []).append(coin)
    trained: dict[str, TrainResult] = {}
    done_before = float(len(results))
    for coins in groups.values():
        first = calls[coins[0]]

        def progress(r: BatchedEpochReport, n: int = len(coins), base: float = done_before) -> None:
            if on_progress is not None:
                frac = base + n * r.epoch / r.epochs
                on_progress(frac, f"epoch {r.epoch}/{r.epochs}, {r.active} models training")

        out = train_many(  # 2. one joint run
            [calls[c].model for c in coins], [calls[c].data for c in coins], first.config,
            on_epoch=progress,
        )  # fmt: skip
        trained.update(zip(coins, out, strict=True))
        done_before += len(coins)
    share = (time.perf_counter() - start) / max(len(calls), 1)
    for coin in calls:  # 3. replay: calibrate, evaluate, package
        t0 = time.perf_counter()
        try:
            fc = Forecaster(preset, **overrides).fit(
                histories[coin], coin=coin, train_fn=_replay(trained[coin]), **split
            )
            res = _summarise(coin, fc, histories[coin], split, share + time.perf_counter() - t0)
        except CoincastError as exc:
            res = CoinResult(coin=coin, ok=False, message=str(exc))
        finish(res)
    return [results[c] for c in histories if c in results]


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
    The ``ray`` engine runs ``fit_coin`` as Ray tasks (``coincast.scale.ray_tasks``).
    """
    overrides = dict(overrides or {})
    split = dict(split or {})
    if engine not in ENGINES:
        raise InvalidRequestError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}.")
    if engine == "ray":
        from coincast.scale.ray_tasks import fit_many_ray

        return fit_many_ray(
            histories, preset, overrides, split=split, on_result=on_result,
            on_progress=on_progress, address=ray_address,
        )  # fmt: skip
    p = Forecaster(preset, **overrides).preset
    if engine == "batched" and p.dropout == 0:
        return _fit_batched(histories, preset, overrides, split, on_result, on_progress)
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
