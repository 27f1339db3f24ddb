"""Faults at the fake CoinGecko: retries, waits, bad bodies, key errors, exact messages."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from coincast.data.coingecko.client import CoinGeckoClient
from coincast.errors import (
    ApiKeyError,
    DataSourceError,
    RateLimitedError,
    SourceUnreachableError,
)
from coincast.server.error_status import status_for
from coincast.settings import PRO_URL, PUBLIC_URL, Settings
from tests.fakes.coingecko import FakeCoinGecko, Fault
from tests.helpers.coingecko import Sleeps, assert_same_history, shifted_csv

CHART = "/coins/*/market_chart"
CSV_HINT = "import history from CSV with `coincast data import FILE --coin ID`"


def make_client(
    fake: FakeCoinGecko, tmp_path: Path, sleeps: Sleeps, **kw: object
) -> CoinGeckoClient:
    return CoinGeckoClient(fake.settings(tmp_path, **kw), sleep=sleeps)


# -- 429 ---------------------------------------------------------------------------------


def test_429_with_retry_after_waits_exactly_that(
    fake_coingecko: FakeCoinGecko, tmp_path: Path, daily_dir: Path
) -> None:
    sleeps = Sleeps()
    fake_coingecko.inject(CHART, [Fault.status(429, retry_after=7)])
    with make_client(fake_coingecko, tmp_path, sleeps) as c:
        got = c.daily_history("bitcoin", 5)
    assert sleeps == [7.0]
    assert [r.status for r in fake_coingecko.requests] == [429, 200]
    assert_same_history(got, shifted_csv(daily_dir, "bitcoin").tail(5))


def test_429_without_retry_after_backs_off_exponentially_with_jitter(
    fake_coingecko: FakeCoinGecko, tmp_path: Path
) -> None:
    sleeps = Sleeps()
    fake_coingecko.inject(CHART, [Fault.status(429)] * 3)
    with make_client(fake_coingecko, tmp_path, sleeps) as c:
        assert len(c.daily_history("bitcoin", 5)) == 5
    assert len(sleeps) == 3
    for i, waited in enumerate(sleeps):  # 1, 2, 4 s plus up to 1 s of jitter
        assert 2**i <= waited <= 2**i + 1


def test_backoff_never_exceeds_backoff_max(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> None:
    sleeps = Sleeps()
    fake_coingecko.inject(CHART, [Fault.status(429)] * 4)
    with make_client(fake_coingecko, tmp_path, sleeps, max_retries=4, backoff_max=3.0) as c:
        c.daily_history("bitcoin", 5)
    assert len(sleeps) == 4 and max(sleeps) <= 3.0 and sleeps[-1] == 3.0


def test_persistent_429_gives_a_rate_limited_error(
    fake_coingecko: FakeCoinGecko, tmp_path: Path
) -> None:
    sleeps = Sleeps()
    fake_coingecko.inject(CHART, [Fault.status(429, retry_after=2)] * 10)
    with (
        make_client(fake_coingecko, tmp_path, sleeps) as c,
        pytest.raises(RateLimitedError) as info,
    ):
        c.daily_history("dogecoin", 5)
    assert str(info.value) == (
        "CoinGecko still answered 429 (rate limited) for dogecoin after 4 attempts. Wait a "
        "minute and try again, or lower COINCAST_REQUESTS_PER_MINUTE (now 600000/min)."
    )
    assert info.value.retry_after == 2.0 and status_for(type(info.value)) == 429
    assert sleeps == [2.0, 2.0, 2.0]
    assert fake_coingecko.count() == 4


def test_retry_after_longer_than_backoff_max_fails_at_once(
    fake_coingecko: FakeCoinGecko, tmp_path: Path
) -> None:
    sleeps = Sleeps()
    fake_coingecko.inject(CHART, [Fault.status(429, retry_after=600)])
    with (
        make_client(fake_coingecko, tmp_path, sleeps) as c,
        pytest.raises(RateLimitedError) as info,
    ):
        c.daily_history("bitcoin", 5)
    assert str(info.value) == (
        "CoinGecko rate-limited bitcoin and asks to wait 600 s, longer than "
        "COINCAST_BACKOFF_MAX (30 s). Try again later, or lower COINCAST_REQUESTS_PER_MINUTE."
    )
    assert sleeps == [] and fake_coingecko.count() == 1


# -- 5xx, timeouts, dropped connections ----------------------------------------------------


def test_5xx_then_success(fake_coingecko: FakeCoinGecko, tmp_path: Path, daily_dir: Path) -> None:
    sleeps = Sleeps()
    fake_coingecko.inject("/coins/markets", [Fault.status(500), Fault.status(502)])
    fake_coingecko.inject(CHART, [Fault.status(503)])
    with make_client(fake_coingecko, tmp_path, sleeps) as c:
        assert len(c.top_coins(3)) == 3
        got = c.daily_history("ethereum", 30)
    assert_same_history(got, shifted_csv(daily_dir, "ethereum").tail(30))
    assert [r.status for r in fake_coingecko.requests] == [500, 502, 200, 503, 200]
    assert len(sleeps) == 3


def test_persistent_5xx_names_the_coin_and_the_cause(
    fake_coingecko: FakeCoinGecko, tmp_path: Path
) -> None:
    fake_coingecko.inject(CHART, [Fault.status(502)] * 10)
    with (
        make_client(fake_coingecko, tmp_path, Sleeps()) as c,
        pytest.raises(DataSourceError) as info,
    ):
        c.daily_history("solana", 5)
    assert type(info.value) is DataSourceError
    assert str(info.value) == (
        "CoinGecko failed for solana (HTTP 502) on each of 4 attempts. The service may be "
        "down (https://status.coingecko.com); try again later."
    )


def test_slow_response_past_the_timeout_is_retried(
    fake_coingecko: FakeCoinGecko, tmp_path: Path, daily_dir: Path
) -> None:
    sleeps = Sleeps()
    fake_coingecko.inject(CHART, [Fault.slow(30.0)])  # ends early when the fake stops
    with make_client(fake_coingecko, tmp_path, sleeps, http_timeout=1.0) as c:
        got = c.daily_history("cardano", 10)
    assert_same_history(got, shifted_csv(daily_dir, "cardano").tail(10))
    first, *later = fake_coingecko.requests
    assert first.status == 0  # the slow answer was never sent: the client had given up
    # On a loaded machine a retry may time out too; what matters is one wait per retry.
    assert later and later[-1].status == 200 and len(sleeps) == len(later)


def test_always_slow_is_unreachable_with_advice(
    fake_coingecko: FakeCoinGecko, tmp_path: Path
) -> None:
    fake_coingecko.inject(CHART, [Fault.slow(2.0)] * 2)
    with (
        make_client(fake_coingecko, tmp_path, Sleeps(), http_timeout=0.2, max_retries=1) as c,
        pytest.raises(SourceUnreachableError) as info,
    ):
        c.daily_history("cardano", 10)
    assert str(info.value) == (
        "CoinGecko did not answer within 0.2 s for cardano (2 attempts). Check your network "
        f"connection or raise COINCAST_HTTP_TIMEOUT; offline, {CSV_HINT}."
    )
    assert status_for(type(info.value)) == 503


def test_dropped_connection_is_retried(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> None:
    fake_coingecko.inject(CHART, [Fault.disconnect()])
    with make_client(fake_coingecko, tmp_path, Sleeps()) as c:
        assert len(c.daily_history("tron", 10)) == 10
    assert fake_coingecko.count() == 2


def test_unreachable_host_says_check_network_or_import_csv(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nobody listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/v3"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path, coingecko_url=url, requests_per_minute=6e5, max_retries=2
    )
    sleeps = Sleeps()
    with CoinGeckoClient(settings, sleep=sleeps) as c, pytest.raises(SourceUnreachableError) as e:
        c.top_coins()
    msg = str(e.value)
    assert msg.startswith(f"Cannot reach CoinGecko at {url} for the top-coins list (")
    assert msg.endswith(
        "; 3 attempts). Check your network connection, or import history from CSV with "
        "`coincast data import FILE --coin ID`."
    )
    assert len(sleeps) == 2


# -- bodies that fail to parse or validate -------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.truncated(), Fault.malformed(), Fault.malformed(b"<h")])
def test_bad_body_is_retried_never_returned(
    fault: Fault, fake_coingecko: FakeCoinGecko, tmp_path: Path, daily_dir: Path
) -> None:
    fake_coingecko.inject(CHART, [fault])
    with make_client(fake_coingecko, tmp_path, Sleeps()) as c:
        got = c.daily_history("monero", 20)
    assert_same_history(got, shifted_csv(daily_dir, "monero").tail(20))
    assert fake_coingecko.count() == 2


def test_always_truncated_is_a_clear_error(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> None:
    fake_coingecko.inject(CHART, [Fault.truncated()] * 4)
    with make_client(fake_coingecko, tmp_path, Sleeps()) as c, pytest.raises(DataSourceError) as e:
        c.daily_history("monero", 20)
    msg = str(e.value)
    assert msg.startswith("CoinGecko sent an unreadable response for monero (invalid JSON: ")
    assert msg.endswith(") on each of 4 attempts; nothing from it was used. Try again later.")


def test_wrong_shape_is_a_clear_error(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> None:
    fake_coingecko.inject("/coins/markets", [Fault.malformed(b'[{"id": "x"}]')] * 4)
    with make_client(fake_coingecko, tmp_path, Sleeps()) as c, pytest.raises(DataSourceError) as e:
        c.top_coins()
    assert str(e.value) == (
        "CoinGecko sent an unreadable response for the top-coins list (unexpected shape at "
        "0.symbol: Field required) on each of 4 attempts; nothing from it was used. "
        "Try again later."
    )


# -- keys and hosts ----------------------------------------------------------------------


def test_pro_key_on_the_public_host(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> None:
    with (
        make_client(fake_coingecko, tmp_path, Sleeps(), plan="pro", api_key="CG-pro") as c,
        pytest.raises(ApiKeyError) as info,
    ):
        c.top_coins()
    assert str(info.value) == (
        "CoinGecko rejected the key (error 10010): a pro key only works on the pro host "
        f"{PRO_URL}. Set COINCAST_COINGECKO_PLAN=pro and unset COINCAST_COINGECKO_URL."
    )
    assert fake_coingecko.count() == 1  # key errors are not retried


def test_demo_key_on_the_pro_host(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> None:
    fake_coingecko.mode = "pro"
    with (
        make_client(fake_coingecko, tmp_path, Sleeps(), plan="demo", api_key="CG-demo") as c,
        pytest.raises(ApiKeyError) as info,
    ):
        c.daily_history("bitcoin", 3)
    assert str(info.value) == (
        "CoinGecko rejected the key (error 10011): a demo key only works on the public host "
        f"{PUBLIC_URL}. Set COINCAST_COINGECKO_PLAN=demo and unset COINCAST_COINGECKO_URL."
    )


def test_no_key_on_the_pro_host(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> None:
    fake_coingecko.mode = "pro"
    with make_client(fake_coingecko, tmp_path, Sleeps()) as c, pytest.raises(ApiKeyError) as info:
        c.daily_history("bitcoin", 3)
    assert str(info.value) == (
        f"CoinGecko says no API key was sent (error 10002) to {fake_coingecko.url}. The pro "
        f"host {PRO_URL} needs a pro key: set COINCAST_COINGECKO_PLAN=pro and "
        "COINCAST_COINGECKO_API_KEY, or unset COINCAST_COINGECKO_URL to use the keyless "
        "public host."
    )
    assert status_for(type(info.value)) == 502


def test_a_time_range_refusal_names_the_limit_and_the_ways_out(
    fake_coingecko: FakeCoinGecko, tmp_path: Path, fixtures_dir: Path
) -> None:
    """If CoinGecko ever lowers the free window below our cap, the user learns why."""
    recorded = json.loads((fixtures_dir / "error_401_time_range_exceeded.json").read_text())
    fake_coingecko.inject(CHART, [Fault.status(401, body=recorded)])
    with make_client(fake_coingecko, tmp_path, Sleeps()) as c, pytest.raises(ApiKeyError) as e:
        c.daily_history("bitcoin", 200)
    message = recorded["error"]["status"]["error_message"]
    assert str(e.value) == (
        f"CoinGecko refused bitcoin's history for days=200 (error 10012: {message}). Keyless "
        "and demo plans only reach back 365 days; use a pro key (COINCAST_COINGECKO_PLAN=pro) "
        f"or {CSV_HINT}."
    )
    assert fake_coingecko.count() == 1


def test_retry_after_as_an_http_date(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    sleeps = Sleeps()
    fake_coingecko.inject(CHART, [Fault.status(429, retry_after=when)])
    with make_client(fake_coingecko, tmp_path, sleeps) as c:
        c.daily_history("bitcoin", 2)
    assert len(sleeps) == 1 and 10 < sleeps[0] <= 20


def test_one_client_serves_many_threads(
    fake_coingecko: FakeCoinGecko, tmp_path: Path, daily_dir: Path
) -> None:
    coins = ["bitcoin", "ethereum", "ripple", "litecoin", "dogecoin", "stellar"]
    fake_coingecko.inject(CHART, [Fault.status(500), Fault.truncated(), Fault.status(429)])
    with (
        make_client(fake_coingecko, tmp_path, Sleeps()) as c,
        ThreadPoolExecutor(max_workers=3) as pool,
    ):
        got = pool.map(lambda coin: c.daily_history(coin, 40), coins)
        frames = dict(zip(coins, got, strict=True))
    for coin, frame in frames.items():
        assert_same_history(frame, shifted_csv(daily_dir, coin).tail(40))
    assert fake_coingecko.count() == len(coins) + 3
