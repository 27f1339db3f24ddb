"""What one app instance works with, built once in ``create_app`` (never module globals).

Tests build several apps side by side (one per temp data dir), so everything an endpoint
needs hangs off ``app.state.services``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from coincast.server.users import UserStore
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry

if TYPE_CHECKING:
    from coincast.server.job_runner import JobManager

__all__ = ["Services", "is_loopback"]


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
