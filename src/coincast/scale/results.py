"""What training one coin produces, whichever engine ran it: a :class:`CoinResult`.

Every engine (sequential, batched, Ray tasks, tuning) ends a coin the same way, in
``summarise``: the TF.js files ready for the model store, and walk-forward errors beside
naive on the validation period (what tuning may look at) and on the test period (looked
at once), each the mean MAPE over 1..7-day forecasts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coincast.forecast import walkforward
from coincast.forecast.forecaster import EVAL_HORIZON, Forecaster
from coincast.forecast.plan import FitPlan
from coincast.json_values import finite

__all__ = ["CoinResult", "OnProgress", "OnResult", "summarise"]

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


def summarise(coin: str, fc: Forecaster, plan: FitPlan, elapsed: float) -> CoinResult:
    """A finished forecaster (``fc.finish(plan, ...)`` done) as its coin's result."""
    assert fc.model is not None and fc.spec is not None and fc.train_result is not None
    val_m, val_n = walkforward.validation_mape(fc.model, fc.spec, plan.prep, EVAL_HORIZON)
    test_m = test_n = None
    if fc.evaluation is not None:
        table = fc.evaluation.table
        test_m = finite(table.loc[table["method"] == "model", "mape"].mean())
        test_n = finite(table.loc[table["method"] == "naive", "mape"].mean())
    model_json, weights = fc.export()
    return CoinResult(
        coin=coin,
        ok=True,
        val_mape=finite(val_m),
        val_naive_mape=finite(val_n),
        test_mape=test_m,
        test_naive_mape=test_n,
        epochs_run=fc.train_result.epochs_run,
        elapsed_s=elapsed,
        model_json=model_json,
        weights=weights,
    )
