"""What one app instance works with, built once in ``create_app`` (never module globals).

Tests build several apps side by side (one per temp data dir), so everything an endpoint
needs hangs off ``app.state.services``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from coincast.server.users import UserStore
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry

if TYPE_CHECKING:
    from coincast.server.job_runner import JobManager

__all__ = ["Services", "is_loopback"]

P = ParamSpec("P")
T = TypeVar("T")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: only this machine can connect."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Services:
    settings: Settings
    registry: ModelRegistry
    users: UserStore
    jobs: JobManager
    loopback: bool = field(default=False)

    def local_mode(self) -> bool:
        """Single-user mode: loopback only, and only while no user exists.

        Asked per request (one indexed COUNT), so adding the first user with the CLI
        switches a running server to tokens without a restart.
        """
        return self.loopback and self.users.count() == 0

    @property
    def embedded_db(self) -> bool:
        """True when the metadata database is the embedded SQLite file (the default)."""
        return self.settings.sqlalchemy_url.startswith("sqlite")

    async def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a quick metadata read from an ``async`` route or dependency.

        On the embedded SQLite store a read is a lookup in a local file (~0.1 ms), cheaper
        than the hop to a worker thread; and 20 concurrent requests' hops convoy on the
        GIL (a cached forecast at 20 clients: p99 100 ms in the pool, 35 ms inline). On
        PostgreSQL a read is a network round trip that may stall when the database is
        slow, so it goes to the pool and never blocks the event loop.
        """
        if self.embedded_db:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)
