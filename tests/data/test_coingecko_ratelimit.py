"""The client-side rate limiter: spacing, thread safety, and its use by the client."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from coincast.data.coingecko.client import CoinGeckoClient
from coincast.data.coingecko.ratelimit import RateLimiter
from tests.fakes.coingecko import FakeCoinGecko


class FakeClock:
    """Monotonic time that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_calls_are_spaced_by_sixty_over_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        limiter.acquire()
    assert clock.sleeps == [2.0, 2.0, 2.0, 2.0]
    assert clock.now == 1008.0  # 5 calls at 30/min take 4 intervals


def test_time_already_passed_is_not_slept_again() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 0.25  # the request itself took a quarter second
    assert limiter.acquire() == pytest.approx(0.75)
    clock.now += 5.0  # idle for a while: no debt, no credit beyond one call
    assert limiter.acquire() == 0.0
    assert limiter.acquire() == 1.0


def test_concurrent_callers_get_distinct_slots() -> None:
    clock = FakeClock()  # frozen: nobody's sleep moves it, so waits show the slot order
    waits: list[float] = []
    lock = threading.Lock()
    limiter = RateLimiter(120, clock=clock, sleep=lambda s: None)

    def worker() -> None:
        for _ in range(5):
            w = limiter.acquire()
            with lock:
                waits.append(w)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == [0.5 * i for i in range(40)]


def test_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_client_spaces_its_requests(fake_coingecko: FakeCoinGecko, tmp_path: Path) -> None:
    clock = FakeClock()
    settings = fake_coingecko.settings(tmp_path, requests_per_minute=5)  # the public default
    with CoinGeckoClient(settings, sleep=clock.sleep, clock=clock) as c:
        c.top_coins(3)
        for coin in ("bitcoin", "ethereum", "ripple"):
            c.daily_history(coin, 2)
    assert clock.sleeps == [12.0, 12.0, 12.0]
    assert fake_coingecko.count() == 4


def test_default_rates_follow_the_plan(tmp_path: Path) -> None:
    from coincast.settings import Settings

    public = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    with CoinGeckoClient(public) as c:
        assert c._limiter.interval == 12.0
