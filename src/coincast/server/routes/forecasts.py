"""Forecast from a stored version: load (cached by ETag), forecast from the store's latest days.

The network is rebuilt from the stored TF.js files (never a pickle) and kept in a small
LRU keyed by the version's ETag, since versions never change: a burst of forecasts costs
one parse. The forecast starts from the coin's newest stored days; when the store has no
history for the coin (a model uploaded from elsewhere) it starts from the days saved in
the model's own metadata.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Request

from coincast.errors import ModelFormatError, NoDataError
from coincast.server.deps import NamePath, ReadableModelDep, RegistryDep, SettingsDep
from coincast.server.routes import ERRORS
from coincast.server.schemas import ForecastIn, ForecastOut
from coincast.server.views import metrics_summary, skill_sentence
from coincast.store.registry import ModelRegistry

router = APIRouter(tags=["forecasts"], responses=ERRORS)

VersionPath = Annotated[
    str, Path(min_length=1, max_length=12, description="A number (3 or v3) or 'latest'.")
]
_CACHE_SIZE = 32
_ONE_DAY = pd.Timedelta(days=1)


class _ForecasterCache:
    def __init__(self) -> None:
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, registry: ModelRegistry, user: str, name: str, version: str
    ) -> tuple[Any, Any, str | None]:
        """(version info, fitted Forecaster, coin id from the metadata)."""
        from coincast.api import Forecaster
        from coincast.store.tfjs import from_tfjs

        info = registry.info(user, name, version)
        with self._lock:
            hit = self._items.get(info.etag)
            if hit is not None:
                self._items.move_to_end(info.etag)
                return (info, *hit)
        stored = registry.get(user, name, info.version)
        model, _window, meta = from_tfjs(stored.model_json, stored.weights)
        fc = Forecaster.from_model(model, meta)
        coin = meta.get("coin") if isinstance(meta.get("coin"), str) else None
        with self._lock:
            self._items[info.etag] = (fc, coin)
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)
        return info, fc, coin


def _cache(request: Request) -> _ForecasterCache:
    state = request.app.state
    with _INIT:
        cache: _ForecasterCache | None = getattr(state, "forecaster_cache", None)
        if cache is None:
            cache = state.forecaster_cache = _ForecasterCache()
    return cache


_INIT = threading.Lock()


@router.post("/users/{user}/models/{name}/versions/{version}/forecast", response_model=ForecastOut)
def forecast(
    request: Request,
    user: ReadableModelDep,
    name: NamePath,
    version: VersionPath,
    body: ForecastIn,
    registry: RegistryDep,
    settings: SettingsDep,
) -> ForecastOut:
    from coincast.api import load_history

    info, fc, coin = _cache(request).get(registry, user, name, version)
    if not coin:
        raise ModelFormatError(
            "This model's metadata does not say which coin it forecasts; re-save it with "
            "'coin' in userDefinedMetadata."
        )
    try:
        frame = fc.forecast(body.days, history=load_history(coin, settings))
    except NoDataError:
        frame = fc.forecast(body.days)
    metrics = info.metrics
    naive = [float(v) for v in frame["naive"]]
    return ForecastOut(
        user=info.user,
        name=info.name,
        version=info.version,
        coin=coin,
        last_date=(frame["date"].iloc[0] - _ONE_DAY).date().isoformat(),
        last_price=naive[0],
        dates=[d.date().isoformat() for d in frame["date"]],
        forecast=[float(v) for v in frame["forecast"]],
        lower=[_finite(v) for v in frame["lower"]],
        upper=[_finite(v) for v in frame["upper"]],
        naive=naive,
        metrics=metrics_summary(metrics),
        evaluation=metrics,
        skill_summary=skill_sentence(metrics),
    )


def _finite(value: Any) -> float | None:
    v = float(value)
    return v if v == v and abs(v) != float("inf") else None
