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
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import pandas as pd
from pydantic import TypeAdapter, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from coincast.data.coingecko.errors import (
    CSV_HINT,
    FREE_MAX_DAYS,
    Transient,
    gave_up,
    is_name_resolution_failure,
    refusal,
    retry_after,
)
from coincast.data.coingecko.payloads import CHART, MARKETS, Chart, MarketCoin, MarketRow
from coincast.data.coingecko.payloads import to_frame as _to_frame
from coincast.data.coingecko.payloads import today_ms as _today_ms
from coincast.data.coingecko.ratelimit import RateLimiter
from coincast.errors import ParameterError, RateLimitedError
from coincast.settings import ApiPlan, Settings
from coincast.version import __version__

if TYPE_CHECKING:
    pass

__all__ = ["CoinGeckoClient", "MarketCoin", "FREE_MAX_DAYS", "RANGE_CHUNK_DAYS", "CSV_HINT"]

# Kept importable from here (tests and older callers use these names).
_is_name_resolution_failure = is_name_resolution_failure

RANGE_CHUNK_DAYS = 365
"""Days per pro ``/market_chart/range`` call: bounded responses, and a failed chunk
retries alone instead of restarting a 15-year download."""
MARKETS_PAGE_SIZE = 100
EARLIEST = datetime(2009, 1, 3, tzinfo=UTC)  # bitcoin's genesis block: no coin trades before
T = TypeVar("T")


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
            raise ParameterError(f"Asked for the top {n} coins; ask for at least 1.")
        rows: dict[str, MarketRow] = {}
        page = 1
        while len(rows) < n:
            params = {
                "vs_currency": "usd",
                "order": "volume_desc",
                "per_page": MARKETS_PAGE_SIZE,
                "page": page,
            }
            batch = self._get("/coins/markets", params, MARKETS, "the top-coins list")
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
            raise ParameterError(
                f"'{coin_id}' is not a CoinGecko coin id; ids look like 'bitcoin' or 'usd-coin'."
            )
        if days is not None and days < 1:
            raise ParameterError(f"Asked for {days} days of history; ask for at least 1.")
        if self.settings.coingecko_plan is not ApiPlan.pro and (
            days is None or days > FREE_MAX_DAYS
        ):
            self._notice_cap(coin_id, days)
            days = FREE_MAX_DAYS
        if days is not None and days <= RANGE_CHUNK_DAYS:
            params = {"vs_currency": "usd", "days": days, "interval": "daily"}
            path = f"/coins/{quote(coin_id, safe='')}/market_chart"
            charts = [self._get(path, params, CHART, coin_id, coin=coin_id)]
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

    def _range_chunks(self, coin_id: str, days: int | None) -> list[Chart]:
        """Walk back from now in 365-day pieces; for ``days=None`` stop at the first empty
        piece (the coin did not trade yet), so a young coin costs two calls, not fifteen.
        A coin with a whole year of no data inside its history would be cut there."""
        now_s = int(time.time())
        today_s = now_s - now_s % 86_400
        lo = int(EARLIEST.timestamp()) if days is None else today_s - (days - 1) * 86_400
        path = f"/coins/{quote(coin_id, safe='')}/market_chart/range"
        charts: list[Chart] = []
        end = now_s
        while end >= lo:
            start = max(lo, end - end % 86_400 - (RANGE_CHUNK_DAYS - 1) * 86_400)
            params = {"vs_currency": "usd", "from": start, "to": end, "interval": "daily"}
            chart = self._get(path, params, CHART, coin_id, coin=coin_id)
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
            retry=retry_if_exception_type(Transient),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(path, params, shape, subject, coin)
        except Transient as exc:
            raise gave_up(exc, self.settings, subject, attempts) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Transient) and exc.retry_after is not None:
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
            raise Transient("timeout", type(exc).__name__) from exc
        except httpx.ConnectError as exc:
            detail = str(exc) or type(exc).__name__
            if is_name_resolution_failure(exc):
                # DNS said no (offline, or a mistyped host): retrying only delays the message.
                raise gave_up(Transient("unreachable", detail), self.settings, subject, 1) from exc
            raise Transient("unreachable", detail) from exc
        except httpx.TransportError as exc:
            raise Transient("server", f"connection dropped ({exc})") from exc
        code = resp.status_code
        if code == 200:
            try:
                body = json.loads(resp.content)
            except ValueError as exc:
                raise Transient("bad_body", f"invalid JSON: {exc}") from exc
            try:
                return shape.validate_python(body)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "body"
                raise Transient("bad_body", f"unexpected shape at {where}: {err['msg']}") from exc
        if code == 429:
            wait = retry_after(resp.headers.get("retry-after"))
            if wait is not None and wait > self.settings.backoff_max:
                raise RateLimitedError(
                    f"CoinGecko rate-limited {subject} and asks to wait {wait:.0f} s, "
                    f"longer than COINCAST_BACKOFF_MAX ({self.settings.backoff_max:g} s). "
                    "Try again later, or lower COINCAST_REQUESTS_PER_MINUTE.",
                    retry_after=wait,
                )
            raise Transient("rate_limited", "HTTP 429", wait)
        if code == 408 or code >= 500:
            raise Transient("server", f"HTTP {code}")
        raise refusal(resp, self.settings, subject, coin, params)
