"""How old the stored data is, and the one sentence that says so.

Imported CSVs and a store nobody refreshed end on some past day; a forecast then starts
from that day, not from today, and its dates look wrong unless the user is told why.
The server (history and forecast responses) and the CLI (``forecast``) word it here, so
the page and the terminal say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

__all__ = ["STALE_AFTER_DAYS", "Freshness", "freshness", "today_utc"]

STALE_AFTER_DAYS = 2
"""Daily closes are final the day after; one more day of slack before we call data stale."""


def today_utc() -> date:
    """Today's date in UTC, the calendar the stored days use."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Freshness:
    last_date: date
    age_days: int
    stale: bool
    notice: str | None


def freshness(last_date: date, today: date | None = None) -> Freshness:
    """``last_date``'s age on ``today`` (UTC today by default) and, when stale, the notice.

    >>> freshness(date(2024, 12, 31), date(2026, 12, 2)).notice
    'Data ends 2024-12-31, 701 days ago; forecasts start from there.'
    >>> freshness(date(2026, 12, 1), date(2026, 12, 2)).stale
    False
    """
    age = ((today or today_utc()) - last_date).days
    stale = age > STALE_AFTER_DAYS
    unit = "day" if age == 1 else "days"
    notice = (
        f"Data ends {last_date.isoformat()}, {age} {unit} ago; forecasts start from there."
        if stale
        else None
    )
    return Freshness(last_date=last_date, age_days=age, stale=stale, notice=notice)
