"""Forecast from a stored version: load (cached per version), forecast from the store's latest days.

The network is rebuilt from the stored TF.js files (never a pickle) and kept, with its
recent forecasts, in ``server.model_cache`` (an LRU of ``COINCAST_MODEL_CACHE`` versions):
a burst of forecasts costs one parse and one forecast per data day. The forecast starts
from the coin's newest stored days; when the store has no history for the coin (a model
uploaded from elsewhere) it starts from the days saved in the model's own metadata.

A repeat (same version, data day, horizon and caller) is answered on the event loop from
the memoised JSON, after the two indexed reads that say it is still current: at 20
concurrent clients the hop to a worker thread, not the work, was what made the wait
(p99 100 ms pooled, 35 ms inline on this machine; ``benchmarks/bench_api.py``).
"""

from __future__ import annotations

import threading
from datetime import date

import pandas as pd
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from coincast.data.freshness import freshness
from coincast.errors import ModelFormatError
from coincast.json_values import finite
from coincast.server.clock import today
from coincast.server.deps import (
    MaybeUserDep,
    NamePath,
    ReadableModelDep,
    ServicesDep,
    VersionPath,
)
from coincast.server.model_cache import HistoryCache, ModelCache
from coincast.server.routes import ERRORS
from coincast.server.routes.ledger import record_served
from coincast.server.schemas import ForecastIn, ForecastOut
from coincast.server.services import Services
from coincast.server.views import metrics_summary, skill_sentence
from coincast.settings import Settings
from coincast.store.records import VersionInfo

router = APIRouter(tags=["forecasts"], responses=ERRORS)

_ONE_DAY = pd.Timedelta(days=1)
_INIT = threading.Lock()


def _caches(request: Request, settings: Settings) -> tuple[ModelCache, HistoryCache]:
    """The app's caches, made on first use (one set per app: tests run several apps)."""
    state = request.app.state
    with _INIT:
        caches: tuple[ModelCache, HistoryCache] | None = getattr(state, "forecast_caches", None)
        if caches is None:
            caches = state.forecast_caches = (ModelCache(settings.model_cache), HistoryCache())
    return caches


@router.post("/users/{user}/models/{name}/versions/{version}/forecast", response_model=ForecastOut)
async def forecast(
    request: Request,
    user: ReadableModelDep,
    name: NamePath,
    version: VersionPath,
    body: ForecastIn,
    me: MaybeUserDep,
    services: ServicesDep,
) -> Response:
    # A repeat is answered on the event loop (two indexed SQLite reads); anything to load
    # or compute, and every read of a networked database, goes to the thread pool
    # (``Services.read`` says why).
    args = (request, services, user, name, version, body.days, me)
    ready = _memoised(*args) if services.embedded_db else None
    if ready is None:
        ready = await run_in_threadpool(_forecast, *args)
    return Response(content=ready, media_type="application/json")


def _memoised(
    request: Request, services: Services, user: str, name: str, version: str, days: int,
    me: str | None,
) -> bytes | None:  # fmt: skip
    """The answer when everything it needs is cached and current; None: never loads."""
    models, histories = _caches(request, services.settings)
    entry = models.peek(services.registry, user, name, version)
    if entry is None or not entry.coin:
        return None
    hit = histories.cached(services.settings, entry.coin)
    if hit is None:
        return None
    return entry.ready_body((hit[0], days, today(request).isoformat()), me)


def _forecast(
    request: Request, services: Services, user: str, name: str, version: str, days: int,
    me: str | None,
) -> bytes:  # fmt: skip
    settings = services.settings
    models, histories = _caches(request, settings)
    info, entry = models.get(services.registry, user, name, version)
    coin = entry.coin
    if not coin:
        raise ModelFormatError(
            "This model's metadata does not say which coin it forecasts; re-save it with "
            "'coin' in userDefinedMetadata."
        )
    token, history = histories.get(settings, coin)
    frame = entry.forecast(token, history, days)
    # the caller's ledger (anonymous readers of public models keep none); once per data day
    if me is not None and entry.first_record(token, days, me):
        record_served(settings, me, info.user, info.name, info.version, coin, frame)
    day = today(request)
    return entry.body((token, days, day.isoformat()), lambda: _answer(info, coin, frame, day))


def _answer(info: VersionInfo, coin: str, frame: pd.DataFrame, day: date) -> bytes:
    """The ForecastOut JSON of one forecast frame (validated once, then memoised)."""
    metrics = info.metrics
    naive = [float(v) for v in frame["naive"]]
    data_ends = (frame["date"].iloc[0] - _ONE_DAY).date()
    fresh = freshness(data_ends, day)
    return (
        ForecastOut(
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
        .model_dump_json()
        .encode()
    )
