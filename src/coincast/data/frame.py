"""The one in-memory shape of a coin's daily history, shared by every stage.

A history frame is a ``pandas.DataFrame``:

- index: ``DatetimeIndex`` named ``"date"``, tz-naive, normalised to midnight (a UTC
  calendar day), strictly increasing, unique;
- columns: ``price`` and ``volume`` (float64, USD), ``market_cap`` (float64, NaN where
  the source has none).

The store returns it, CSV import and the CoinGecko client produce it, cleaning keeps it,
and the forecasting core consumes it. Keeping one shape means no stage guesses.
"""

from __future__ import annotations

import pandas as pd

from coincast.errors import DataError

__all__ = ["HISTORY_COLUMNS", "empty_history", "validate_history"]

HISTORY_COLUMNS = ("price", "volume", "market_cap")


def empty_history() -> pd.DataFrame:
    frame = pd.DataFrame(
        {c: pd.Series(dtype="float64") for c in HISTORY_COLUMNS},
        index=pd.DatetimeIndex([], name="date"),
    )
    return frame


def validate_history(frame: pd.DataFrame, what: str = "history") -> pd.DataFrame:
    """Check the shape above; return the frame with exactly the canonical columns."""
    missing = [c for c in HISTORY_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{what} lacks column(s) {', '.join(missing)}.")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{what} must be indexed by date.")
    if frame.index.tz is not None:
        raise DataError(f"{what} must use tz-naive UTC calendar days.")
    if not frame.index.is_monotonic_increasing or not frame.index.is_unique:
        raise DataError(f"{what} dates must be unique and increasing.")
    out = frame.loc[:, list(HISTORY_COLUMNS)].astype("float64")
    out.index.name = "date"
    return out
