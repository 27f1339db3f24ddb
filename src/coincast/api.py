"""The Python API: history in, fitted forecaster, forecasts and an honest backtest out.

>>> import coincast
>>> history = coincast.load_history("bitcoin")              # doctest: +SKIP
>>> fc = coincast.Forecaster("paper").fit(history)          # doctest: +SKIP
>>> fc.forecast(days=7)                                     # doctest: +SKIP
>>> print(coincast.backtest(history, preset="deep").verdict) # doctest: +SKIP

Forecasts are decision support, not financial advice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coincast.data.frame import validate_history
from coincast.forecast import baselines
from coincast.forecast.evaluate import Evaluation, score_paths
from coincast.forecast.forecaster import EVAL_HORIZON, Forecaster, _actuals, _iso, _paths
from coincast.forecast.intervals import extend_quantiles, interval_bounds
from coincast.forecast.metrics import mase_scale
from coincast.model.presets import DEFAULT_PRESET, PRESETS
from coincast.prep.dataset import prepare
from coincast.settings import Settings

if TYPE_CHECKING:
    from coincast.store.registry import ModelRegistry

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "SCHEDULE_KEYS",
    "Evaluation",
    "Forecaster",
    "backtest",
    "load_history",
    "load_stored",
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
    ``SCHEDULE_KEYS``; anything else is an InvalidRequestError naming what is allowed.
    ``registry``: an open one (the server's); by default one on ``settings``.
    """
    from coincast.errors import InvalidRequestError
    from coincast.store.registry import ModelRegistry
    from coincast.store.tfjs.read import from_tfjs

    fixed = sorted(k for k, v in schedule.items() if v is not None and k not in SCHEDULE_KEYS)
    if fixed:
        raise InvalidRequestError(
            f"Training a stored model further keeps its network and inputs; {', '.join(fixed)} "
            f"cannot change. Only {', '.join(SCHEDULE_KEYS)} can; train a new model to change "
            "the others."
        )
    registry = registry or ModelRegistry(settings or Settings())
    stored = registry.get(user, name, version)
    model, _window, meta = from_tfjs(stored.model_json, stored.weights)
    fc = Forecaster.from_model(model, meta)
    allowed = {k: v for k, v in schedule.items() if v is not None}
    if allowed:
        fc.preset = fc.preset.with_overrides(**allowed)
    return fc, stored.info.version


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
    (slower, closer to how a deployed model would be used). Either way no forecast ever
    sees data after its origin.
    """
    if refit_every is None:
        fc = Forecaster(preset, **overrides).fit(
            history, test_start=test_start, end=end, horizon=horizon, coin=coin
        )
        assert fc.evaluation is not None
        return fc.evaluation
    if refit_every < 1:
        raise ValueError("refit_every must be a positive number of days")
    base_fc = Forecaster(preset, **overrides)
    p = base_fc.preset
    prep = prepare(
        history, window=p.window, features=p.features, target=p.target,
        val_frac=p.val_frac, test_frac=p.test_frac, test_start=test_start, end=end,
    )  # fmt: skip
    b = prep.bounds
    origins = np.arange(b.test_start - 1, b.end - 1, dtype=np.intp)
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
        paths = _paths(fc.model, fc.spec, prep, chunk, horizon)
        model_paths[k : k + chunk.size] = paths
        lo, hi = interval_bounds(paths, extend_quantiles(fc.quantiles, horizon))
        lower[k : k + chunk.size], upper[k : k + chunk.size] = lo, hi
    base = prep.price[origins]
    return score_paths(
        _actuals(prep, origins, horizon, b.end),
        {
            "model": model_paths,
            "naive": baselines.naive(base, horizon),
            "drift": baselines.drift(prep.price, origins, horizon),
        },
        base, mase_scale(prep.price[1 : b.test_start]), lower=lower, upper=upper,
        start=_iso(prep.dates, b.test_start),
        end=_iso(prep.dates, b.end - 1),
    )  # fmt: skip
