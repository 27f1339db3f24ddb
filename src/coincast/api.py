"""The Python API: history in, fitted forecaster, forecasts and an honest backtest out.

>>> import coincast
>>> history = coincast.load_history("bitcoin")              # doctest: +SKIP
>>> fc = coincast.Forecaster("paper").fit(history)          # doctest: +SKIP
>>> fc.forecast(days=7)                                     # doctest: +SKIP
>>> print(coincast.backtest(history, preset="deep").verdict) # doctest: +SKIP

Forecasts are decision support, not financial advice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coincast.data.frame import validate_history
from coincast.errors import ParameterError
from coincast.forecast import walkforward
from coincast.forecast.ensemble import Ensemble
from coincast.forecast.evaluate import Evaluation
from coincast.forecast.forecaster import EVAL_HORIZON, Forecaster
from coincast.forecast.global_model import GlobalForecaster
from coincast.model.presets import DEFAULT_PRESET, PRESETS
from coincast.model.schedule import CancelToken, OnEpoch
from coincast.settings import Settings

if TYPE_CHECKING:
    from coincast.store.records import VersionInfo
    from coincast.store.registry import ModelRegistry

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "SCHEDULE_KEYS",
    "Evaluation",
    "Ensemble",
    "Forecaster",
    "GlobalForecaster",
    "backtest",
    "load_history",
    "load_stored",
    "save",
    "train_further",
]

SCHEDULE_KEYS = ("epochs", "batch_size", "lr", "patience", "seed")
"""What may change when a stored model is trained further: the schedule, not the network
or its inputs (a different window or units would not be the same model any more)."""


def load_history(
    coin: str, settings: Settings | None = None, *, clean: bool = True
) -> pd.DataFrame:
    """A coin's daily history from the local store, cleaned (gaps, outliers) by default.

    Raises NoDataError when nothing is stored yet (the message says how to fetch it).
    """
    from coincast.data.market.cache import MarketCache

    settings = settings or Settings()
    frame = MarketCache(settings).history(coin)
    if clean:
        from coincast.data.clean import clean as clean_frame

        frame, _report = clean_frame(frame, settings)
    return validate_history(frame, what=coin)


def load_stored(
    user: str,
    name: str,
    version: int | str = "latest",
    settings: Settings | None = None,
    registry: ModelRegistry | None = None,
    **schedule: Any,
) -> tuple[Forecaster, int]:
    """A stored model version as a fitted forecaster, and the version number read.

    Ready to forecast, or to train further with ``fit(history, warm_start=True)``, saved
    then as a new version with this one as its parent. ``schedule`` may override only
    ``SCHEDULE_KEYS``; anything else is a ParameterError naming what is allowed.
    ``registry``: an open one (the server's); by default one on ``settings``.
    """
    from coincast.store.registry import ModelRegistry

    fixed = sorted(k for k, v in schedule.items() if v is not None and k not in SCHEDULE_KEYS)
    if fixed:
        raise ParameterError(
            f"Training a stored model further keeps its network and inputs; {', '.join(fixed)} "
            f"cannot change. Only {', '.join(SCHEDULE_KEYS)} can; train a new model to change "
            "the others."
        )
    registry = registry or ModelRegistry(settings or Settings())
    stored = registry.get(user, name, version)
    fc = Forecaster.from_tfjs(stored.model_json, stored.weights)
    allowed = {k: v for k, v in schedule.items() if v is not None}
    if allowed:
        fc.preset = fc.preset.with_overrides(**allowed)
    return fc, stored.info.version


def save(
    fc: Forecaster,
    registry: ModelRegistry,
    user: str,
    name: str,
    *,
    parent_version: int | None = None,
    extra: dict[str, Any] | None = None,
) -> VersionInfo:
    """Store a fitted forecaster as the next version of ``user``/``name`` (TF.js files).

    ``parent_version``: the version it was trained further from; ``extra``: metadata to
    add (e.g. a tuning record).
    """
    model_json, weights = fc.export(extra)
    return registry.save(user, name, model_json, weights, parent_version=parent_version)


def train_further(
    history: pd.DataFrame,
    user: str,
    name: str,
    version: int | str = "latest",
    *,
    registry: ModelRegistry,
    coin: str | None = None,
    test_start: str | pd.Timestamp | None = None,
    on_start: Callable[[int], None] | None = None,
    on_epoch: OnEpoch | None = None,
    cancel: CancelToken | None = None,
    **schedule: Any,
) -> tuple[Forecaster, int]:
    """Continue a stored version's training on ``history`` → (forecaster, parent version).

    Save the result with ``save(..., parent_version=parent)``: a new version whose
    parent is the one it started from. ``on_start`` hears the epoch count before the
    first epoch (for progress bars).
    """
    fc, parent = load_stored(user, name, version, registry=registry, **schedule)
    if on_start is not None:
        on_start(fc.preset.epochs)
    fc.fit(history, on_epoch, cancel, coin=coin, test_start=test_start, warm_start=True)
    return fc, parent


def backtest(
    history: pd.DataFrame,
    preset: str | None = None,
    *,
    horizon: int = EVAL_HORIZON,
    test_start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    refit_every: int | None = None,
    coin: str | None = None,
    **overrides: Any,
) -> Evaluation:
    """Walk-forward evaluation over every origin of the test period, beside naive and drift.

    With ``refit_every=None`` one model is fitted on the data before the test period and
    kept fixed; with ``refit_every=K`` it is refitted on all data up to each K-th origin
    (slower, closer to how a deployed model would be used; each refit's intervals are
    recalibrated on its own validation period and follow the volatility forecast at each
    origin, without adaptive updating between refits). Either way no forecast ever
    sees data after its origin.
    """
    if refit_every is None:
        fc = Forecaster(preset, **overrides).fit(
            history, test_start=test_start, end=end, horizon=horizon, coin=coin
        )
        assert fc.evaluation is not None
        return fc.evaluation
    if refit_every < 1:
        raise ParameterError("refit_every must be a positive number of days")
    recipe = Forecaster(preset, **overrides)
    prep = recipe.prepare(history, test_start=test_start, end=end)
    b = prep.bounds
    origins = walkforward.origins(b.test_start, b.end)
    model_paths = np.empty((origins.size, horizon))
    lower = np.empty_like(model_paths)
    upper = np.empty_like(model_paths)
    frame = pd.DataFrame(
        {"price": prep.price, "volume": prep.volume, "market_cap": prep.market_cap},
        index=prep.dates,
    )
    for k in range(0, origins.size, refit_every):
        chunk = origins[k : k + refit_every]
        # Everything up to and including the chunk's first origin; validation at its end.
        known = frame.iloc[: int(chunk[0]) + 1]
        fc = Forecaster(preset, **{**overrides, "test_frac": 0.0}).fit(known, coin=coin)
        assert fc.model is not None and fc.spec is not None
        paths = walkforward.paths(fc.model, fc.spec, prep, chunk, horizon)
        model_paths[k : k + chunk.size] = paths
        lo, hi = fc.intervals.bounds(paths, prep.price, chunk)
        lower[k : k + chunk.size], upper[k : k + chunk.size] = lo, hi
    method = recipe.preset.intervals
    return walkforward.score(
        prep, origins, model_paths, stop=b.end, lower=lower, upper=upper, interval_method=method
    )
