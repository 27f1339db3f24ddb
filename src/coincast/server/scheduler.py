"""The daily ledger job inside ``coincast serve``: APScheduler at ``COINCAST_DAILY_AT`` UTC.

A BackgroundScheduler (a thread of its own, so a long run never blocks requests) with a
CronTrigger in UTC. Every server process may start one; the job claims the day in the
database first (``Ledger.claim_day``), so one process runs it and the rest return.
A failed run logs why (offline: CoinGecko unreachable) and the trigger tries again the
next day.
"""

from __future__ import annotations

import logging
from typing import Any

from coincast.settings import Settings

__all__ = ["start_daily", "stop_daily"]

log = logging.getLogger("coincast.daily")


def _job(settings: Settings) -> None:
    from coincast.errors import CoincastError
    from coincast.ledger.daily import run_daily

    try:
        run_daily(settings)
    except CoincastError as exc:
        log.error("the daily ledger job failed: %s; it runs again tomorrow.", exc)


def start_daily(settings: Settings) -> Any | None:
    """The started scheduler, or None when ``COINCAST_DAILY_AT`` is unset."""
    if not settings.daily_at:
        return None
    from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
    from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

    hour, minute = (int(p) for p in settings.daily_at.split(":"))
    scheduler = BackgroundScheduler(timezone="UTC")
    trigger = CronTrigger(hour=hour, minute=minute, timezone="UTC")
    scheduler.add_job(_job, trigger, args=[settings], id="daily", coalesce=True,
                      max_instances=1, misfire_grace_time=3600)  # fmt: skip
    scheduler.start()
    log.info("the daily ledger job runs at %s UTC", settings.daily_at)
    return scheduler


def stop_daily(scheduler: Any | None) -> None:
    if scheduler is not None:
        scheduler.shutdown(wait=False)
