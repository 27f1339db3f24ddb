"""Forecast from a stored version: load (cached by ETag), forecast from the store's latest days.

The network is rebuilt from the stored TF.js files (never a pickle) and kept in a small
LRU keyed by the version's ETag, since versions never change: a burst of forecasts costs
one parse. The forecast starts from the coin's newest stored days; when the store has no
history for the coin (a model uploaded from elsewhere) it starts from the days saved in
the model's own metadata.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

import pandas as pd
from fastapi import APIRouter, Request

from coincast.data.freshness import freshness
from coincast.errors import ModelFormatError, NoDataError
from coincast.json_values import finite
from coincast.server.clock import today
from coincast.server.deps import (
    MaybeUserDep,
    NamePath,
    ReadableModelDep,
    RegistryDep,
    SettingsDep,
    VersionPath,
)
from coincast.server.routes import ERRORS
from coincast.server.routes.ledger import record_served
from coincast.server.schemas import ForecastIn, ForecastOut
from coincast.server.views import metrics_summary, skill_sentence
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry

router = APIRouter(tags=["forecasts"], responses=ERRORS)

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

        info = registry.info(user, name, version)
        with self._lock:
            hit = self._items.get(info.etag)
            if hit is not None:
                self._items.move_to_end(info.etag)
                return (info, *hit)
        stored = registry.get(user, name, info.version)
        fc = Forecaster.from_tfjs(stored.model_json, stored.weights)
        coin = fc.coin
        with self._lock:
            self._items[info.etag] = (fc, coin)
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)
        return info, fc, coin


class _HistoryCache:
    """Cleaned histories for a minute, keyed by the coin's last stored day.

    Reading and cleaning thousands of rows costs ~100 ms, twenty times the forecast
    itself; a refresh that adds a day changes the key, so new data is used at once.
    """

    TTL_S = 60.0

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[float, Any, pd.DataFrame | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, settings: Settings, coin: str) -> pd.DataFrame | None:
        from coincast.api import load_history
        from coincast.data.market.cache import MarketCache

        last = MarketCache(settings).last_date(coin)
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(coin)
            if hit is not None and hit[1] == last and now - hit[0] < self.TTL_S:
                return hit[2]
        try:
            frame: pd.DataFrame | None = load_history(coin, settings)
        except NoDataError:
            frame = None
        with self._lock:
            self._items[coin] = (now, last, frame)
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)
        return frame


def _caches(request: Request) -> tuple[_ForecasterCache, _HistoryCache]:
    state = request.app.state
    with _INIT:
        caches: tuple[_ForecasterCache, _HistoryCache] | None = getattr(
            state, "forecast_caches", None
        )
        if caches is None:
            caches = state.forecast_caches = (_ForecasterCache(), _HistoryCache())
    return caches


_INIT = threading.Lock()


@router.post("/users/{user}/models/{name}/versions/{version}/forecast", response_model=ForecastOut)
def forecast(
    request: Request,
    user: ReadableModelDep,
    name: NamePath,
    version: VersionPath,
    body: ForecastIn,
    me: MaybeUserDep,
    registry: RegistryDep,
    settings: SettingsDep,
) -> ForecastOut:
    models, histories = _caches(request)
    info, fc, coin = models.get(registry, user, name, version)
    if not coin:
        raise ModelFormatError(
            "This model's metadata does not say which coin it forecasts; re-save it with "
            "'coin' in userDefinedMetadata."
        )
    history = histories.get(settings, coin)
    if history is None:
        frame = fc.forecast(body.days)
    else:
        # Only the last window matters; a tail keeps the per-request work small.
        frame = fc.forecast(body.days, history=history.iloc[-(fc.spec.window + 60) :])
    if me is not None:  # the caller's ledger (anonymous readers of public models keep none)
        record_served(settings, me, info.user, info.name, info.version, coin, frame)
    metrics = info.metrics
    naive = [float(v) for v in frame["naive"]]
    data_ends = (frame["date"].iloc[0] - _ONE_DAY).date()
    fresh = freshness(data_ends, today(request))
    return ForecastOut(
        user=info.user,
        name=info.name,
        version=info.version,
        coin=coin,
        last_date=data_ends.isoformat(),
        last_price=naive[0],
        dates=[d.date().isoformat() for d in frame["date"]],
        forecast=[float(v) for v in frame["forecast"]],
        lower=[finite(v) for v in frame["lower"]],
        upper=[finite(v) for v in frame["upper"]],
        naive=naive,
        metrics=metrics_summary(metrics),
        evaluation=metrics,
        skill_summary=skill_sentence(metrics),
        data_ends=data_ends.isoformat(),
        age_days=fresh.age_days,
        stale=fresh.stale,
        notice=fresh.notice,
    )
