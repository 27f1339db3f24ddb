"""Helpers for tests against the fake CoinGecko: expected data, recorded sleeps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

__all__ = ["Sleeps", "assert_same_history", "shifted_csv"]


def shifted_csv(daily_dir: Path, coin: str) -> pd.DataFrame:
    """The shared CSV moved so its last row is today: what the fake claims to serve."""
    frame = pd.read_csv(daily_dir / f"{coin}.csv", index_col="date", parse_dates=["date"])
    today = pd.Timestamp(datetime.now(UTC).date())
    frame.index = pd.DatetimeIndex(frame.index + (today - frame.index[-1]), name="date")
    return frame.astype("float64")


def assert_same_history(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == ["price", "volume", "market_cap"]
    assert list(got.index) == list(want.index)
    for col in got.columns:
        pd.testing.assert_series_equal(
            got[col], want[col], check_names=False, check_index_type=False, check_freq=False
        )


class Sleeps(list[float]):
    """Records every wait the client asks for, and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
