"""Coins and their daily history, from the store; CoinGecko fills what is missing.

The store comes first: the coin list always holds every coin with stored history (so
imported CSVs show up offline), and reads work without CoinGecko. When CoinGecko cannot
be reached a read answers with what is stored and says so; only the explicit refresh
endpoints answer 503, since there the upstream failure is the answer.

A GET of a coin nobody has fetched yet fetches it once (the page should not need a
separate "download" step); later updates are explicit ``POST …/refresh`` calls, so
reads never spend the API quota behind the user's back. One lock per app serialises
CoinGecko calls: two tabs opening the page must not double the requests.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from coincast.data.coingecko.stablecoins import WINDOW_DAYS, is_stablecoin
from coincast.data.freshness import freshness
from coincast.data.market.cache import CoinRow, MarketCache
from coincast.errors import DataSourceError, NoDataError, NotStoredError, SourceUnreachableError
from coincast.server.clock import today
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


UNREACHABLE_S = 60.0  # how long a failed implicit fetch is believed before trying again


def _implicit(request: Request, settings: Settings) -> Settings | None:
    """Settings for a fetch the user did not ask for (listing coins, opening a chart), or
    None while CoinGecko was unreachable less than a minute ago: with the full retry
    budget an offline page waited ~65 s per request for an answer the store already had.
    One retry, waits of at most 2 s; the refresh endpoints keep the full budget."""
    until: float = getattr(request.app.state, "coingecko_down_until", 0.0)
    if time.monotonic() < until:
        return None
    retries, wait = min(settings.max_retries, 1), min(settings.backoff_max, 2.0)
    return settings.model_copy(update={"max_retries": retries, "backoff_max": wait})


def mark_unreachable(state: Any) -> None:
    """Remember (in an app's state) that CoinGecko could not be reached just now; the
    start-up probe of ``coincast serve`` says so too, before the page's first request."""
    state.coingecko_down_until = time.monotonic() + UNREACHABLE_S


@router.get("/coins", response_model=CoinsOut)
def list_coins(
    request: Request, _user: UserDep, settings: SettingsDep, limit: Limit = 100
) -> CoinsOut:
    """The top list (fetched once, then stored) plus every stored coin beyond it."""
    cache = MarketCache(settings)
    rows = cache.coins(limit)
    fresh = True
    if not rows:
        with _lock(request):
            rows = cache.coins(limit)
            online = _implicit(request, settings)
            if not rows and online is None:
                fresh = False
            elif not rows and online is not None:
                try:
                    _fetch_top(online, cache, max(limit, 100))
                except DataSourceError as exc:
                    fresh = False  # offline, rate-limited, down: the stored coins still list
                    if isinstance(exc, SourceUnreachableError):
                        mark_unreachable(request.app.state)
                rows = cache.coins(limit)
    stored = cache.last_prices()
    coins = [_coin_out(cache, r, stored) for r in rows]
    listed = {c.id for c in coins}
    if set(stored) - listed:  # stored beyond the limit: their stored row, if any, names them
        known = {r.id: r for r in cache.coins() if r.id in stored and r.id not in listed}
        coins += [_coin_out(cache, known[c], stored) for c in sorted(known)]
        listed |= set(known)
    coins += [_stored_only(cache, coin, stored) for coin in sorted(stored) if coin not in listed]
    notice = None
    if not fresh:
        notice = (
            f"CoinGecko could not be reached; showing the {len(stored)} coin(s) stored here. "
            "Import CSVs (`coincast data import FILE --coin ID`) or connect to see the top "
            "list."
        )
    return CoinsOut(coins=coins, top_list_fresh=fresh, notice=notice)


def _recent_prices(cache: MarketCache, coin: str, last: date) -> Any:
    start = last - timedelta(days=2 * WINDOW_DAYS)
    return cache.history(coin, start=start)["price"]


def _coin_out(cache: MarketCache, row: CoinRow, stored: dict[str, tuple[date, float]]) -> CoinOut:
    """The stored row's public fields; non-finite prices become null (JSON has no NaN)."""
    values = {name: getattr(row, name) for name in CoinOut.model_fields if hasattr(row, name)}
    out = {k: _num(v) if isinstance(v, float) else v for k, v in values.items()}
    if row.id in stored:
        day, price = stored[row.id]
        prices = _recent_prices(cache, row.id, day)
        extra = {"stored": True, "last_date": day.isoformat(), "last_price": _num(price)}
        return CoinOut(**out, **extra, stablecoin=is_stablecoin(row.id, prices=prices))
    return CoinOut(**out, stablecoin=is_stablecoin(row.id, market=row))


def _stored_only(cache: MarketCache, coin: str, stored: dict[str, tuple[date, float]]) -> CoinOut:
    """A coin known only from its stored days (imported, or fetched outside the top list)."""
    day, price = stored[coin]
    return CoinOut(
        id=coin,
        symbol="",
        name=coin,
        current_price=_num(price),
        stored=True,
        last_date=day.isoformat(),
        last_price=_num(price),
        stablecoin=is_stablecoin(coin, prices=_recent_prices(cache, coin, day)),
    )


@router.post("/coins/refresh", response_model=RefreshOut)
def refresh_coins(
    request: Request, _user: UserDep, settings: SettingsDep, limit: Limit = 100
) -> RefreshOut:
    with _lock(request):
        n = _fetch_top(settings, MarketCache(settings), limit)
    request.app.state.coingecko_down_until = 0.0  # reachable again: implicit fetches resume
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
                try:
                    online = _implicit(request, settings)
                    if online is None:
                        raise SourceUnreachableError("CoinGecko was unreachable a moment ago")
                    _refresh(online, cache, coin)
                except SourceUnreachableError:
                    mark_unreachable(request.app.state)
                    raise NotStoredError(
                        f"'{coin}' is not stored here and CoinGecko cannot be reached to fetch "
                        f"it. Import it with `coincast data import FILE --coin {coin}`, or "
                        "connect to the internet and try again."
                    ) from None
    try:
        frame = cache.history(coin, start, end)
    except NoDataError:
        if cache.last_date(coin) is None:
            raise NoDataError(
                f"CoinGecko returned no finished days for '{coin}'. Check the coin id, or "
                "import a CSV with `coincast data import FILE --coin ID`."
            ) from None
        raise
    last = cache.last_date(coin) or frame.index[-1].date()
    fresh = freshness(last, today(request))
    return HistoryOut(
        coin=coin,
        dates=[d.date().isoformat() for d in frame.index],
        price=[_num(v) for v in frame["price"]],
        volume=[_num(v) for v in frame["volume"]],
        market_cap=[_num(v) for v in frame["market_cap"]],
        last_date=last.isoformat(),
        age_days=fresh.age_days,
        stale=fresh.stale,
        notice=fresh.notice,
    )


@router.post("/coins/{coin}/refresh", response_model=RefreshOut)
def refresh_history(
    request: Request, coin: CoinPath, _user: UserDep, settings: SettingsDep
) -> RefreshOut:
    with _lock(request):
        out = _refresh(settings, MarketCache(settings), coin)
    request.app.state.coingecko_down_until = 0.0
    return out
