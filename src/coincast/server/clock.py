"""Today's date for freshness fields, replaceable per app so tests can fix the calendar.

``app.state.today`` (a zero-argument callable returning a ``date``) wins when set;
otherwise it is today's UTC date. Ages computed from a real clock would make every
"701 days ago" assertion wrong tomorrow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import Request

from coincast.data.freshness import today_utc

__all__ = ["today"]


def today(request: Request) -> date:
    clock: Callable[[], date] = getattr(request.app.state, "today", today_utc)
    return clock()
