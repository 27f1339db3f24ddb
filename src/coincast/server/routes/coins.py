"""Coins and their daily history, from the store; CoinGecko fills what is missing.

A GET of a coin nobody has fetched yet fetches it once (the page should not need a
separate "download" step); later updates are explicit ``POST …/refresh`` calls, so
reads never spend the API quota behind the user's back. One lock per app serialises
CoinGecko calls: two tabs opening the page must not double the requests.
"""

from __future__ import annotations

import math
import threading
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from coincast.data.market.cache import CoinRow, MarketCache
from coincast.errors import NoDataError
from coincast.server.deps import CoinPath, SettingsDep, UserDep
from coincast.server.routes import ERRORS, SOURCE_ERRORS
from coincast.server.routes.ledger import score_after_refresh
from coincast.server.schemas import CoinOut, CoinsOut, HistoryOut, RefreshOut
from coincast.settings import Settings

router = APIRouter(tags=["coins"], responses={**ERRORS, **SOURCE_ERRORS})

Limit = Annotated[int, Query(ge=1, le=250, description="How many coins, by 24 h volume.")]


def _lock(request: Request) -> threading.Lock:
    state = request.app.state
    lock: threading.Lock | None = getattr(state, "coingecko_lock", None)
    if lock is None:
        lock = state.coingecko_lock = threading.Lock()
    return lock


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _fetch_top(settings: Settings, cache: MarketCache, limit: int) -> int:
    from coincast.data.coingecko.client import CoinGeckoClient

    with CoinGeckoClient(settings) as client:
        coins = client.top_coins(limit)
    cache.upsert_coins(coins)
    return len(coins)


@router.get("/coins", response_model=CoinsOut)
def list_coins(
    request: Request, _user: UserDep, settings: SettingsDep, limit: Limit = 100
) -> CoinsOut:
    cache = MarketCache(settings)
    rows = cache.coins(limit)
    if not rows:
        with _lock(request):
            rows = cache.coins(limit)
            if not rows:
                _fetch_top(settings, cache, max(limit, 100))
                rows = cache.coins(limit)
    return CoinsOut(coins=[_coin_out(r) for r in rows])


def _coin_out(row: CoinRow) -> CoinOut:
    """The stored row's public fields; non-finite prices become null (JSON has no NaN)."""
    values = {name: getattr(row, name) for name in CoinOut.model_fields}
    return CoinOut(**{k: _num(v) if isinstance(v, float) else v for k, v in values.items()})


@router.post("/coins/refresh", response_model=RefreshOut)
def refresh_coins(
    request: Request, _user: UserDep, settings: SettingsDep, limit: Limit = 100
) -> RefreshOut:
    with _lock(request):
        n = _fetch_top(settings, MarketCache(settings), limit)
    return RefreshOut(added=n)


def _refresh(settings: Settings, cache: MarketCache, coin: str) -> RefreshOut:
    from coincast.data.coingecko.client import CoinGeckoClient
    from coincast.data.market.refresh import refresh_coin

    with CoinGeckoClient(settings) as client:
        result = refresh_coin(client, cache, coin)
        notices = list(client.notices)
    score_after_refresh(settings, coin)
    last = result.last_date.isoformat() if result.last_date else None
    return RefreshOut(coin=coin, added=result.new_rows, last_date=last, notices=notices)


@router.get("/coins/{coin}/history", response_model=HistoryOut)
def history(
    request: Request,
    coin: CoinPath,
    _user: UserDep,
    settings: SettingsDep,
    start: date | None = None,
    end: date | None = None,
) -> HistoryOut:
    cache = MarketCache(settings)
    if cache.last_date(coin) is None:
        with _lock(request):
            if cache.last_date(coin) is None:
                _refresh(settings, cache, coin)
    try:
        frame = cache.history(coin, start, end)
    except NoDataError:
        if cache.last_date(coin) is None:
            raise NoDataError(
                f"CoinGecko returned no finished days for '{coin}'. Check the coin id, or "
                "import a CSV with `coincast data import FILE --coin ID`."
            ) from None
        raise
    return HistoryOut(
        coin=coin,
        dates=[d.date().isoformat() for d in frame.index],
        price=[_num(v) for v in frame["price"]],
        volume=[_num(v) for v in frame["volume"]],
        market_cap=[_num(v) for v in frame["market_cap"]],
    )


@router.post("/coins/{coin}/refresh", response_model=RefreshOut)
def refresh_history(
    request: Request, coin: CoinPath, _user: UserDep, settings: SettingsDep
) -> RefreshOut:
    with _lock(request):
        return _refresh(settings, MarketCache(settings), coin)
