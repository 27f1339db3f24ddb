"""Hyperparameter tuning of one coin's model: Ray Tune trials, an Optuna search, ASHA.

Honest by construction:

- one split for everything: the validation and test periods are fixed from the base
  preset's split (by date), so every trial is scored on the same days;
- trials never see the test period: they get the history cut *before* the first test
  day, and their objective is walk-forward validation MAPE (mean of 1..7-day
  forecasts, ``coincast.forecast.walkforward.validation_mape``), reported after every
  epoch;
- ASHA stops trials whose validation error lags at the same epoch; Optuna (TPE)
  proposes the next configuration from the finished ones;
- the winner is refitted once (for the epoch count at which its validation error was
  lowest) and only then scored on the test period, beside naive and beside the
  ``paper`` preset fitted on the same split.

The best configuration and the whole trials table are written to
``<data_dir>/tuning/<coin>-<time>/`` (``best.json``, ``trials.csv``) and travel in the
stored model's metadata under ``"tuning"``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from coincast.errors import ParameterError
from coincast.scale.results import CoinResult
from coincast.scale.sequential import fit_coin
from coincast.settings import Settings

__all__ = ["OBJECTIVE", "TuneOutcome", "report_lines", "search_space", "tune_coin"]

OBJECTIVE = "val_mape"
REFERENCE_PRESET = "paper"
WINDOWS = (7, 14, 30, 60)
UNITS = (16, 32, 50, 64, 128)
BATCHES = (16, 32, 64, 128)
DROPOUTS = (0.0, 0.1, 0.2, 0.3)


def search_space() -> dict[str, Any]:
    """Ray Tune's space (OptunaSearch converts it): window, units, layers, dropout, lr, batch."""
    from ray import tune

    return {
        "window": tune.choice(list(WINDOWS)),
        "units": tune.choice(list(UNITS)),
        "layers": tune.choice([1, 2]),
        "dropout": tune.choice(list(DROPOUTS)),
        "lr": tune.loguniform(1e-4, 1e-2),
        "batch_size": tune.choice(list(BATCHES)),
    }


def to_overrides(config: dict[str, Any], epochs: int) -> dict[str, Any]:
    """A trial's config → preset overrides; a second layer has half the units (≥ 8)."""
    units = int(config["units"])
    layers = (units,) if int(config["layers"]) == 1 else (units, max(units // 2, 8))
    return {
        "window": int(config["window"]),
        "units": layers,
        "dropout": float(config["dropout"]),
        "lr": float(config["lr"]),
        "batch_size": int(config["batch_size"]),
        "epochs": int(epochs),
    }


def _trainable(
    config: dict[str, Any],
    *,
    history: pd.DataFrame,
    base_preset: str,
    epochs: int,
    split: dict[str, Any],
) -> None:
    """One Ray Tune trial: train, and after each epoch report validation MAPE.

    The same ``Forecaster.plan`` as every fit, trained without early stopping or LR
    decay: ASHA decides which trials stop, by their validation error at equal epochs.
    """
    import dataclasses

    import torch
    from ray import tune

    from coincast.forecast.forecaster import EVAL_HORIZON, Forecaster
    from coincast.forecast.walkforward import validation_mape
    from coincast.model.schedule import EpochReport

    torch.set_num_threads(1)  # Ray runs one trial per core
    plan = Forecaster(base_preset, **to_overrides(config, epochs)).plan(history, **split)

    def on_epoch(r: EpochReport) -> None:
        model_mape, naive_mape = validation_mape(plan.model, plan.spec, plan.prep, EVAL_HORIZON)
        tune.report(
            {
                OBJECTIVE: model_mape,
                "naive_val_mape": naive_mape,
                "epoch": r.epoch,
                "loss": r.loss,
                "val_loss": r.val_loss,
            }
        )

    free = dataclasses.replace(plan.config, patience=None, lr_decay_patience=None)
    dataclasses.replace(plan, config=free).train(on_epoch)


@dataclass
class TuneOutcome:
    """The winner, the reference, and every trial; ``best``/``reference`` are scored rows."""

    coin: str
    base_preset: str
    best_config: dict[str, Any]  # preset overrides, epochs = the best validation epoch
    best: CoinResult
    reference: CoinResult  # the paper preset on the same split
    trials: list[dict[str, Any]] = field(default_factory=list)
    split: dict[str, str] = field(default_factory=dict)
    out_dir: Path | None = None
    version: int | None = None
    elapsed_s: float = 0.0


def _fixed_split(history: pd.DataFrame, base_preset: str, test_start: str | None) -> dict[str, str]:
    """The base preset's validation and test start dates, so every fit uses the same days."""
    from coincast.forecast.forecaster import Forecaster

    prep = Forecaster(base_preset).prepare(history, test_start=test_start)
    b = prep.bounds
    if b.test_start >= b.end or b.val_start >= b.test_start:
        raise ParameterError(
            "tuning needs both a validation and a test period; use a longer history or an "
            "earlier --test-start."
        )
    return {
        "val_start": prep.dates[b.val_start].date().isoformat(),
        "test_start": prep.dates[b.test_start].date().isoformat(),
    }


def _trial_rows(grid: Any) -> list[dict[str, Any]]:
    rows = []
    for res in grid:
        cfg = dict(res.config or {})
        row: dict[str, Any] = {
            k: cfg.get(k) for k in ("window", "units", "layers", "dropout", "lr", "batch_size")
        }
        hist = res.metrics_dataframe
        if res.error is not None or hist is None or OBJECTIVE not in hist:
            problem = str(res.error).splitlines()[0] if res.error else "no result"
            row.update(
                val_mape=None, best_epoch=None, epochs_run=0, naive_val_mape=None, error=problem
            )
        else:
            vals = hist[OBJECTIVE].astype(float)
            k = int(vals.idxmin())
            row.update(
                val_mape=float(vals.loc[k]),
                best_epoch=int(hist["epoch"].loc[k]),
                epochs_run=len(hist),
                naive_val_mape=float(hist["naive_val_mape"].iloc[-1]),
                error=None,
            )
        rows.append(row)
    return rows


def tune_coin(
    coin: str,
    history: pd.DataFrame,
    *,
    settings: Settings,
    base_preset: str = REFERENCE_PRESET,
    trials: int = 50,
    max_epochs: int | None = None,
    test_start: str | None = None,
    seed: int = 42,
    grace_period: int = 3,
    num_cpus: int | None = None,
    user: str | None = "local",
) -> TuneOutcome:
    """Search, pick by validation, score once on test; save files (and the model if ``user``)."""
    import optuna
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from coincast.model.presets import get_preset
    from coincast.scale.ray_tasks import ray_runtime

    if trials < 1:
        raise ParameterError("--trials must be at least 1.")
    # Quiet by default: the CLI prints its own summary, Tune's tables would interleave.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    epochs = max_epochs or get_preset(base_preset).epochs
    split = _fixed_split(history, base_preset, test_start)
    before_test = history.loc[history.index < pd.Timestamp(split["test_start"])]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out_dir = settings.data_dir / "tuning" / f"{coin}-{stamp}"
    trainable = tune.with_parameters(
        _trainable, history=before_test, base_preset=base_preset, epochs=epochs, split=split
    )
    with ray_runtime(settings.ray_address, num_cpus):
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space=search_space(),
            tune_config=tune.TuneConfig(
                metric=OBJECTIVE,
                mode="min",
                num_samples=trials,
                reuse_actors=True,
                search_alg=OptunaSearch(seed=seed),
                scheduler=ASHAScheduler(
                    max_t=epochs, grace_period=min(grace_period, epochs), reduction_factor=3
                ),
            ),
            run_config=tune.RunConfig(
                name=f"{coin}-{stamp}", storage_path=str((out_dir / "ray").resolve()), verbose=0
            ),
        )
        grid = tuner.fit()
    rows = _trial_rows(grid)
    scored = [r for r in rows if r["val_mape"] is not None and math.isfinite(r["val_mape"])]
    if not scored:
        raise ParameterError(
            f"none of the {len(rows)} trials finished (first problem: {rows[0].get('error')}). "
            "Check the coin's history length against the windows searched."
        )
    winner = min(scored, key=lambda r: r["val_mape"])
    best_config = to_overrides(winner, winner["best_epoch"])
    best = fit_coin(coin, history, base_preset, best_config, split=split)
    reference = fit_coin(coin, history, REFERENCE_PRESET, split=split)
    outcome = TuneOutcome(
        coin=coin,
        base_preset=base_preset,
        best_config=best_config,
        best=best,
        reference=reference,
        trials=rows,
        split=split,
        out_dir=out_dir,
        elapsed_s=time.perf_counter() - start,
    )
    _save(outcome, settings, user)
    return outcome


def _save(outcome: TuneOutcome, settings: Settings, user: str | None) -> None:
    """best.json + trials.csv in the data dir; the tuned model as a store version."""
    assert outcome.out_dir is not None
    outcome.out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(outcome.trials).to_csv(outcome.out_dir / "trials.csv", index=False)
    summary = {
        "coin": outcome.coin,
        "base_preset": outcome.base_preset,
        "objective": "walk-forward validation MAPE %, mean of 1..7-day forecasts",
        "split": outcome.split,
        "best_config": _jsonable(outcome.best_config),
        "best": outcome.best.summary(),
        "reference": outcome.reference.summary(),
        "trials": len(outcome.trials),
        "elapsed_s": outcome.elapsed_s,
    }
    (outcome.out_dir / "best.json").write_text(json.dumps(summary, indent=2))
    model_json, weights = outcome.best.model_json, outcome.best.weights
    if user is None or model_json is None or weights is None:
        return
    from coincast.store.registry import ModelRegistry

    # The winner was fitted once already (fit_coin); add the tuning record to its
    # metadata rather than fitting it again.
    doc = json.loads(model_json)
    doc["userDefinedMetadata"]["tuning"] = _jsonable({**summary, "trials_table": outcome.trials})
    info = ModelRegistry(settings).save(
        user, f"{outcome.coin}-tuned", json.dumps(doc).encode(), weights
    )
    outcome.version = info.version


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f} %"


def report_lines(o: TuneOutcome) -> list[str]:
    """Plain-text summary: best vs paper on validation, then once on test, beside naive."""
    b, r = o.best, o.reference
    finished = sum(1 for t in o.trials if t.get("val_mape") is not None)
    cfg = ", ".join(f"{k}={v}" for k, v in o.best_config.items())
    lines = [
        f"{o.coin}: {len(o.trials)} trials ({finished} scored) in {o.elapsed_s:.0f} s; "
        f"validation from {o.split.get('val_start')}, test from {o.split.get('test_start')}.",
        f"best config ({o.base_preset} +): {cfg}",
        "MAPE, mean of 1..7-day walk-forward forecasts:",
        f"  validation  best {_fmt(b.val_mape)}   paper {_fmt(r.val_mape)}   "
        f"naive {_fmt(b.val_naive_mape)}",
        f"  test (once) best {_fmt(b.test_mape)}   paper {_fmt(r.test_mape)}   "
        f"naive {_fmt(b.test_naive_mape)}",
    ]
    if o.out_dir is not None:
        lines.append(f"best config and trials table: {o.out_dir}")
    if o.version is not None:
        lines.append(f"tuned model saved as {o.coin}-tuned version {o.version}.")
    return lines
