"""What CoinGecko's failures mean, and the message a user gets for each.

Two kinds: :class:`Transient` failures (timeouts, 429, 5xx, unreadable bodies) that the
client retries and, when retries run out, turns into an error via :func:`gave_up`; and 4xx
answers that no retry will fix, turned into an error at once by :func:`refusal`. Keeping
the messages here, as tables, keeps the client's retry loop short and every message in
one place to review.
"""

from __future__ import annotations

import math
import socket
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from coincast.errors import (
    ApiKeyError,
    CoincastError,
    DataSourceError,
    RateLimitedError,
    SourceUnreachableError,
    UnknownCoinError,
)
from coincast.settings import PRO_URL, PUBLIC_URL, Settings

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CSV_HINT",
    "FREE_MAX_DAYS",
    "Transient",
    "error_info",
    "gave_up",
    "is_name_resolution_failure",
    "refusal",
    "retry_after",
]

FREE_MAX_DAYS = 365
"""Keyless and demo plans answer 401/10012 beyond this many days back."""
CSV_HINT = "import history from CSV with `coincast data import FILE --coin ID`"


class Transient(Exception):
    """A failure worth retrying; ``kind`` picks the message if retries run out."""

    def __init__(self, kind: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after


# kind -> (error class, message); filled from the failure and the settings in ``gave_up``.
_GAVE_UP: dict[str, tuple[type[CoincastError], str]] = {
    "timeout": (
        SourceUnreachableError,
        "CoinGecko did not answer within {timeout:g} s for {subject} ({tries}). Check your "
        "network connection or raise COINCAST_HTTP_TIMEOUT; offline, {csv}.",
    ),
    "unreachable": (
        SourceUnreachableError,
        "Cannot reach CoinGecko at {url} for {subject} ({detail}; {tries}). Check your "
        "network connection, or {csv}.",
    ),
    "bad_body": (
        DataSourceError,
        "CoinGecko sent an unreadable response for {subject} ({detail}) on each of {tries}; "
        "nothing from it was used. Try again later.",
    ),
    "server": (
        DataSourceError,
        "CoinGecko failed for {subject} ({detail}) on each of {tries}. The service may be "
        "down (https://status.coingecko.com); try again later.",
    ),
}


def gave_up(exc: Transient, settings: Settings, subject: str, attempts: int) -> CoincastError:
    """The error to raise once ``attempts`` tries all failed with ``exc`` as the last."""
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if exc.kind == "rate_limited":
        return RateLimitedError(
            f"CoinGecko still answered 429 (rate limited) for {subject} after {tries}. "
            "Wait a minute and try again, or lower COINCAST_REQUESTS_PER_MINUTE "
            f"(now {settings.rate_per_minute:g}/min).",
            retry_after=exc.retry_after,
        )
    cls, template = _GAVE_UP.get(exc.kind, _GAVE_UP["server"])
    return cls(
        template.format(
            subject=subject,
            tries=tries,
            detail=exc.detail,
            timeout=settings.http_timeout,
            url=settings.base_url,
            csv=CSV_HINT,
        )
    )


# A key sent to the other plan's host: error code -> (plan, host name, host URL).
_WRONG_HOST = {10010: ("pro", "pro", PRO_URL), 10011: ("demo", "public", PUBLIC_URL)}


def refusal(
    resp: httpx.Response,
    settings: Settings,
    subject: str,
    coin: str | None,
    params: dict[str, Any],
) -> CoincastError:
    """The clear, non-retryable error for a 4xx answer."""
    code, message = error_info(resp)
    status = resp.status_code
    if status == 404 and coin is not None and "coin not found" in message.lower():
        return UnknownCoinError(
            f"CoinGecko has no coin with id '{coin}'. Ids are lowercase slugs such as "
            "'bitcoin' or 'usd-coin'; `coincast data top` lists the current ones."
        )
    if code == 10002:
        return ApiKeyError(
            f"CoinGecko says no API key was sent (error 10002) to {settings.base_url}. "
            f"The pro host {PRO_URL} needs a pro key: set COINCAST_COINGECKO_PLAN=pro and "
            "COINCAST_COINGECKO_API_KEY, or unset COINCAST_COINGECKO_URL to use the "
            "keyless public host."
        )
    if code in _WRONG_HOST:
        plan, host, url = _WRONG_HOST[code]
        return ApiKeyError(
            f"CoinGecko rejected the key (error {code}): a {plan} key only works on the "
            f"{host} host {url}. Set COINCAST_COINGECKO_PLAN={plan} and unset "
            "COINCAST_COINGECKO_URL."
        )
    if code == 10012:
        return ApiKeyError(
            f"CoinGecko refused {subject}'s history for days={params.get('days')} (error "
            f"10012: {message}). Keyless and demo plans only reach back {FREE_MAX_DAYS} "
            "days; use a pro key (COINCAST_COINGECKO_PLAN=pro) or " + CSV_HINT + "."
        )
    if status == 401 or code == 10005:
        return ApiKeyError(
            f"CoinGecko refused the request for {subject} (HTTP {status}: {message}). "
            "Check COINCAST_COINGECKO_API_KEY and that COINCAST_COINGECKO_PLAN matches it."
        )
    return DataSourceError(
        f"CoinGecko answered HTTP {status} for {subject} ({resp.request.url.path}): "
        f"{message}. This is not expected to pass on retry; please report it."
    )


def retry_after(header: str | None) -> float | None:
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


def error_info(resp: httpx.Response) -> tuple[int | None, str]:
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


def is_name_resolution_failure(exc: BaseException) -> bool:
    """True when the cause chain holds a ``socket.gaierror`` (the host name did not resolve)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
