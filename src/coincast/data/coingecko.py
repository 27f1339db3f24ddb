"""CoinGecko API v3 client: plans and keys, rate limits, retries, validated bodies.

It knows HTTP and CoinGecko's conventions, and no SQL: it returns pydantic models and
history frames (``coincast.data.frame``); the cache decides what to store.

CoinGecko conventions it relies on (see ``shared/fixtures/coingecko/README.md``):

- ``market_chart`` daily points sit at 00:00 UTC; row D is the 00:00 UTC snapshot of D.
  The API appends one more point at request time: an unfinished day, always dropped.
- Keyless and demo plans refuse history older than 365 days (HTTP 401, error 10012);
  pro keys get everything, on their own host.
- Errors come in three envelopes: ``{"error": "..."}``, ``{"status": {error_code,
  error_message}}`` and ``{"error": {"status": {...}}}``.

httpx is imported where a client is built, not at module import: httpx 0.28's
``__init__`` imports its command-line tool, and with it click, rich and pygments whenever
they are installed (they are, for our CLI). Importing coincast's core must not pull the
CLI stack in (``tests/test_layers.py``).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar
from urllib.parse import quote

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from coincast import __version__
from coincast.data.frame import HISTORY_COLUMNS, validate_history
from coincast.data.ratelimit import RateLimiter
from coincast.errors import (
    ApiKeyError,
    DataSourceError,
    InvalidRequestError,
    RateLimitedError,
    SourceUnreachableError,
    UnknownCoinError,
)
from coincast.settings import PRO_URL, PUBLIC_URL, ApiPlan, Settings

if TYPE_CHECKING:
    import httpx

__all__ = ["CoinGeckoClient", "MarketCoin", "FREE_MAX_DAYS", "RANGE_CHUNK_DAYS", "CSV_HINT"]

FREE_MAX_DAYS = 365
"""Keyless and demo plans answer 401/10012 beyond this many days back."""
RANGE_CHUNK_DAYS = 365
"""Days per pro ``/market_chart/range`` call: bounded responses, and a failed chunk
retries alone instead of restarting a 15-year download."""
MARKETS_PAGE_SIZE = 100
EARLIEST = datetime(2009, 1, 3, tzinfo=UTC)  # bitcoin's genesis block: no coin trades before
DAY_MS = 86_400_000
CSV_HINT = "import history from CSV with `coincast data import FILE --coin ID`"

Value = Annotated[float, Field(allow_inf_nan=False)]
Point = tuple[Value, Value | None]


class MarketCoin(BaseModel):
    """One row of ``/coins/markets``; ``volume_rank`` is its 1-based place by volume."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    symbol: str
    name: str
    volume_rank: int = Field(ge=1)
    market_cap_rank: int | None = None
    current_price: Value | None = None
    total_volume: Value | None = None
    market_cap: Value | None = None
    high_24h: Value | None = None
    low_24h: Value | None = None
    price_change_percentage_24h: Value | None = None


class _MarketRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    symbol: str
    name: str
    market_cap_rank: int | None = None
    current_price: Value | None = None
    total_volume: Value | None = None
    market_cap: Value | None = None
    high_24h: Value | None = None
    low_24h: Value | None = None
    price_change_percentage_24h: Value | None = None


class _Chart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prices: list[Point]
    market_caps: list[Point] = Field(default_factory=list)
    total_volumes: list[Point] = Field(default_factory=list)


_MARKETS = TypeAdapter(list[_MarketRow])
_CHART = TypeAdapter(_Chart)
T = TypeVar("T")


class _Transient(Exception):
    """A failure worth retrying; ``kind`` picks the message if retries run out."""

    def __init__(self, kind: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after


class CoinGeckoClient:
    """Synchronous, thread-safe CoinGecko client; use it as a context manager.

    ``sleep`` (and ``clock``) are injectable so tests see every wait without waiting.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.notices: list[str] = []
        self._sleep = sleep
        self._limiter = RateLimiter(settings.rate_per_minute, clock=clock, sleep=sleep)
        self._backoff = wait_exponential_jitter(initial=1, max=settings.backoff_max, jitter=1)
        self._lock = threading.Lock()
        self._capped_once = False
        headers = {"accept": "application/json", "user-agent": f"coincast/{__version__}"}
        key = settings.coingecko_api_key
        if key is not None:
            name = "x-cg-pro-api-key" if settings.coingecko_plan is ApiPlan.pro else None
            headers[name or "x-cg-demo-api-key"] = key.get_secret_value()
        import httpx

        self._http = httpx.Client(
            base_url=settings.base_url, headers=headers, timeout=settings.http_timeout
        )

    def __enter__(self) -> CoinGeckoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- public API ------------------------------------------------------------------

    def top_coins(self, n: int = 100) -> list[MarketCoin]:
        """The ``n`` coins with the largest 24 h volume, largest first (pages of 100)."""
        if n < 1:
            raise InvalidRequestError(f"Asked for the top {n} coins; ask for at least 1.")
        rows: dict[str, _MarketRow] = {}
        page = 1
        while len(rows) < n:
            params = {
                "vs_currency": "usd",
                "order": "volume_desc",
                "per_page": MARKETS_PAGE_SIZE,
                "page": page,
            }
            batch = self._get("/coins/markets", params, _MARKETS, "the top-coins list")
            for row in batch:
                rows.setdefault(row.id, row)  # paging can repeat a coin whose rank moved
            if len(batch) < MARKETS_PAGE_SIZE:
                break
            page += 1
        # Pages are fetched moments apart, so re-sort: the contract is volume order.
        ordered = sorted(rows.values(), key=lambda r: -(r.total_volume or 0.0))[:n]
        return [MarketCoin(volume_rank=i, **row.model_dump()) for i, row in enumerate(ordered, 1)]

    def daily_history(self, coin_id: str, days: int | None = None) -> pd.DataFrame:
        """The last ``days`` finished UTC days (ending today's 00:00 snapshot), as a frame.

        ``days=None`` asks for as much as the plan allows. Keyless/demo plans get at most
        365 days (one notice in ``.notices`` says so); pro gets any span, via
        ``/market_chart/range`` in 365-day pieces when one call would not do.
        """
        if not coin_id or coin_id != coin_id.strip() or "/" in coin_id:
            raise InvalidRequestError(
                f"'{coin_id}' is not a CoinGecko coin id; ids look like 'bitcoin' or 'usd-coin'."
            )
        if days is not None and days < 1:
            raise InvalidRequestError(f"Asked for {days} days of history; ask for at least 1.")
        if self.settings.coingecko_plan is not ApiPlan.pro and (
            days is None or days > FREE_MAX_DAYS
        ):
            self._notice_cap(coin_id, days)
            days = FREE_MAX_DAYS
        if days is not None and days <= RANGE_CHUNK_DAYS:
            params = {"vs_currency": "usd", "days": days, "interval": "daily"}
            path = f"/coins/{quote(coin_id, safe='')}/market_chart"
            charts = [self._get(path, params, _CHART, coin_id, coin=coin_id)]
        else:
            charts = self._range_chunks(coin_id, days)
        return _to_frame(charts, today=_today_ms())

    # -- internals -------------------------------------------------------------------

    def _notice_cap(self, coin_id: str, days: int | None) -> None:
        with self._lock:
            if self._capped_once:
                return
            self._capped_once = True
            asked = "all history" if days is None else f"{days} days"
            self.notices.append(
                f"The CoinGecko {self.settings.coingecko_plan} plan only serves the last "
                f"{FREE_MAX_DAYS} days, so {coin_id} (and every coin after it) was fetched for "
                f"{FREE_MAX_DAYS} days instead of {asked}. For full history set "
                "COINCAST_COINGECKO_PLAN=pro with a pro key, or " + CSV_HINT + "."
            )

    def _range_chunks(self, coin_id: str, days: int | None) -> list[_Chart]:
        """Walk back from now in 365-day pieces; for ``days=None`` stop at the first empty
        piece (the coin did not trade yet), so a young coin costs two calls, not fifteen.
        A coin with a whole year of no data inside its history would be cut there."""
        now_s = int(time.time())
        today_s = now_s - now_s % 86_400
        lo = int(EARLIEST.timestamp()) if days is None else today_s - (days - 1) * 86_400
        path = f"/coins/{quote(coin_id, safe='')}/market_chart/range"
        charts: list[_Chart] = []
        end = now_s
        while end >= lo:
            start = max(lo, end - end % 86_400 - (RANGE_CHUNK_DAYS - 1) * 86_400)
            params = {"vs_currency": "usd", "from": start, "to": end, "interval": "daily"}
            chart = self._get(path, params, _CHART, coin_id, coin=coin_id)
            charts.append(chart)
            if days is None and not chart.prices:
                break  # before the coin's first trading day
            end = start - 1
        return charts

    def _get(
        self,
        path: str,
        params: dict[str, Any],
        shape: TypeAdapter[T],
        subject: str,
        *,
        coin: str | None = None,
    ) -> T:
        attempts = self.settings.max_retries + 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(path, params, shape, subject, coin)
        except _Transient as exc:
            self._give_up(exc, subject, attempts)
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))

    def _attempt(
        self,
        path: str,
        params: dict[str, Any],
        shape: TypeAdapter[T],
        subject: str,
        coin: str | None,
    ) -> T:
        import httpx

        self._limiter.acquire()
        try:
            resp = self._http.get(path, params=params)
        except httpx.TimeoutException as exc:
            raise _Transient("timeout", type(exc).__name__) from exc
        except httpx.ConnectError as exc:
            detail = str(exc) or type(exc).__name__
            if _is_name_resolution_failure(exc):
                # DNS said no (offline, or a mistyped host): retrying only delays the message.
                self._give_up(_Transient("unreachable", detail), subject, 1)
            raise _Transient("unreachable", detail) from exc
        except httpx.TransportError as exc:
            raise _Transient("server", f"connection dropped ({exc})") from exc
        code = resp.status_code
        if code == 200:
            try:
                body = json.loads(resp.content)
            except ValueError as exc:
                raise _Transient("bad_body", f"invalid JSON: {exc}") from exc
            try:
                return shape.validate_python(body)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "body"
                raise _Transient("bad_body", f"unexpected shape at {where}: {err['msg']}") from exc
        if code == 429:
            retry_after = _retry_after(resp.headers.get("retry-after"))
            if retry_after is not None and retry_after > self.settings.backoff_max:
                raise RateLimitedError(
                    f"CoinGecko rate-limited {subject} and asks to wait {retry_after:.0f} s, "
                    f"longer than COINCAST_BACKOFF_MAX ({self.settings.backoff_max:g} s). "
                    "Try again later, or lower COINCAST_REQUESTS_PER_MINUTE.",
                    retry_after=retry_after,
                )
            raise _Transient("rate_limited", "HTTP 429", retry_after)
        if code == 408 or code >= 500:
            raise _Transient("server", f"HTTP {code}")
        self._refuse(resp, subject, coin, params)

    def _refuse(
        self, resp: httpx.Response, subject: str, coin: str | None, params: dict[str, Any]
    ) -> NoReturn:
        """Raise the clear, non-retryable error for a 4xx answer."""
        code, message = _error_info(resp)
        status = resp.status_code
        if status == 404 and coin is not None and "coin not found" in message.lower():
            raise UnknownCoinError(
                f"CoinGecko has no coin with id '{coin}'. Ids are lowercase slugs such as "
                "'bitcoin' or 'usd-coin'; `coincast data top` lists the current ones."
            )
        if code == 10002:
            raise ApiKeyError(
                f"CoinGecko says no API key was sent (error 10002) to {self.settings.base_url}. "
                f"The pro host {PRO_URL} needs a pro key: set COINCAST_COINGECKO_PLAN=pro and "
                "COINCAST_COINGECKO_API_KEY, or unset COINCAST_COINGECKO_URL to use the "
                "keyless public host."
            )
        if code == 10010:
            raise ApiKeyError(
                "CoinGecko rejected the key (error 10010): a pro key only works on the pro "
                f"host {PRO_URL}. Set COINCAST_COINGECKO_PLAN=pro and unset "
                "COINCAST_COINGECKO_URL."
            )
        if code == 10011:
            raise ApiKeyError(
                "CoinGecko rejected the key (error 10011): a demo key only works on the public "
                f"host {PUBLIC_URL}. Set COINCAST_COINGECKO_PLAN=demo and unset "
                "COINCAST_COINGECKO_URL."
            )
        if code == 10012:
            raise ApiKeyError(
                f"CoinGecko refused {subject}'s history for days={params.get('days')} (error "
                f"10012: {message}). Keyless and demo plans only reach back {FREE_MAX_DAYS} "
                "days; use a pro key (COINCAST_COINGECKO_PLAN=pro) or " + CSV_HINT + "."
            )
        if status == 401 or code == 10005:
            raise ApiKeyError(
                f"CoinGecko refused the request for {subject} (HTTP {status}: {message}). "
                "Check COINCAST_COINGECKO_API_KEY and that COINCAST_COINGECKO_PLAN matches it."
            )
        raise DataSourceError(
            f"CoinGecko answered HTTP {status} for {subject} ({resp.request.url.path}): "
            f"{message}. This is not expected to pass on retry; please report it."
        )

    def _give_up(self, exc: _Transient, subject: str, attempts: int) -> NoReturn:
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if exc.kind == "rate_limited":
            raise RateLimitedError(
                f"CoinGecko still answered 429 (rate limited) for {subject} after {tries}. "
                "Wait a minute and try again, or lower COINCAST_REQUESTS_PER_MINUTE "
                f"(now {self.settings.rate_per_minute:g}/min).",
                retry_after=exc.retry_after,
            ) from exc
        if exc.kind == "timeout":
            raise SourceUnreachableError(
                f"CoinGecko did not answer within {self.settings.http_timeout:g} s for "
                f"{subject} ({tries}). Check your network connection or raise "
                "COINCAST_HTTP_TIMEOUT; offline, " + CSV_HINT + "."
            ) from exc
        if exc.kind == "unreachable":
            raise SourceUnreachableError(
                f"Cannot reach CoinGecko at {self.settings.base_url} for {subject} "
                f"({exc.detail}; {tries}). Check your network connection, or " + CSV_HINT + "."
            ) from exc
        if exc.kind == "bad_body":
            raise DataSourceError(
                f"CoinGecko sent an unreadable response for {subject} ({exc.detail}) on each "
                f"of {tries}; nothing from it was used. Try again later."
            ) from exc
        raise DataSourceError(
            f"CoinGecko failed for {subject} ({exc.detail}) on each of {tries}. The service "
            "may be down (https://status.coingecko.com); try again later."
        ) from exc


def _retry_after(header: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), None if absent/bad."""
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


def _error_info(resp: httpx.Response) -> tuple[int | None, str]:
    """(error_code, message) from any of CoinGecko's three error envelopes."""
    try:
        body = resp.json()
    except ValueError:
        return None, resp.text[:200].strip() or resp.reason_phrase
    status: Any = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, str):
            return None, err
        status = err.get("status") if isinstance(err, dict) else body.get("status")
    if isinstance(status, dict):
        code = status.get("error_code")
        message = str(status.get("error_message") or "")
        return (code if isinstance(code, int) else None), message
    return None, resp.reason_phrase


def _today_ms() -> int:
    now = int(time.time() * 1000)
    return now - now % DAY_MS


def _series(charts: list[_Chart], field: str) -> pd.Series:
    """One column keyed by UTC day: request-time points dropped, one value per day."""
    ts: list[int] = []
    values: list[float] = []
    for chart in charts:
        points: list[tuple[float, float | None]] = getattr(chart, field)
        if points and int(points[-1][0]) % DAY_MS:
            points = points[:-1]  # the request-time point: today is not finished
        for t, v in points:
            ts.append(int(t))
            values.append(math.nan if v is None else float(v))
    frame = pd.DataFrame({"ts": ts, "value": values}, dtype="float64")
    frame["day"] = frame["ts"] // DAY_MS * DAY_MS
    frame["off"] = frame["ts"] - frame["day"]
    # One value per day, the 00:00 snapshot first (chunk overlaps, stray intraday points).
    frame = frame.sort_values(["day", "off"], kind="stable").drop_duplicates("day")
    index = pd.DatetimeIndex(pd.to_datetime(frame["day"].astype("int64"), unit="ms"))
    return pd.Series(frame["value"].to_numpy(), index=index, dtype="float64")


def _to_frame(charts: list[_Chart], today: int) -> pd.DataFrame:
    prices = _series(charts, "prices").dropna()
    prices = prices[prices.index <= pd.Timestamp(today, unit="ms")]
    frame = pd.DataFrame(
        {
            "price": prices,
            "volume": _series(charts, "total_volumes").reindex(prices.index),
            "market_cap": _series(charts, "market_caps").reindex(prices.index),
        },
        index=prices.index,
        columns=list(HISTORY_COLUMNS),
    )
    frame.index = pd.DatetimeIndex(frame.index, name="date").as_unit("ns")
    return validate_history(frame, "CoinGecko history")


def _is_name_resolution_failure(exc: BaseException) -> bool:
    """True when the cause chain holds a ``socket.gaierror`` (the host name did not resolve)."""
    import socket

    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
