"""Client-side spacing of CoinGecko calls, so a top-100 refresh never earns a 429.

Written here rather than taken from pyrate-limiter or limits: we need one thing (at most
``per_minute`` calls, evenly spaced, across threads of one process) and we need its clock
and its sleep injectable so tests run in microseconds. pyrate-limiter's blocking mode
owns its own sleeping and its API changed at each major release; ``limits`` only answers
"allowed?" and leaves the waiting to us. The whole limiter is the slot reservation below.

Even spacing (a bucket of one token) rather than bursts: CoinGecko's limits are
published per minute but enforced over shorter windows, and a burst of 5 keyless calls
in one second is exactly what triggers a 429.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from coincast.errors import ParameterError

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``per_minute`` calls a minute, each at least ``60 / per_minute`` s apart.

    >>> slept = []
    >>> now = [0.0]
    >>> limiter = RateLimiter(60, clock=lambda: now[0], sleep=slept.append)
    >>> limiter.acquire()
    0.0
    >>> limiter.acquire()
    1.0
    >>> slept
    [1.0]
    """

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ParameterError("per_minute must be positive")
        self.interval = 60.0 / per_minute
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free: float | None = None

    def acquire(self) -> float:
        """Wait for this caller's slot; return the seconds waited.

        The slot is reserved under the lock but slept outside it, so N threads queue
        up at ``interval`` spacing instead of serialising on the lock.
        """
        with self._lock:
            now = self._clock()
            slot = now if self._next_free is None else max(now, self._next_free)
            self._next_free = slot + self.interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait
