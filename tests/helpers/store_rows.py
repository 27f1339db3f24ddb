"""Test helpers for the data-store tests: an independent reading of the shared CSVs.

The reference parse uses only the ``csv`` module and ``float``, so a bug shared by
``read_history_csv`` and the cache cannot hide behind a shared code path.
"""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import pandas as pd

__all__ = ["reference_rows", "assert_frame_matches_rows"]

Row = tuple[float, float, float]


def reference_rows(path: Path) -> dict[date, Row]:
    rows: dict[date, Row] = {}
    with path.open(newline="") as fh:
        for rec in csv.DictReader(fh):
            cap = rec.get("market_cap") or ""
            rows[date.fromisoformat(rec["date"])] = (
                float(rec["price"]),
                float(rec["volume"]),
                float(cap) if cap else math.nan,
            )
    return rows


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def assert_frame_matches_rows(frame: pd.DataFrame, rows: dict[date, Row]) -> None:
    """Exact equality, value by value (NaN equals NaN), and the same dates in order."""
    assert list(frame.columns) == ["price", "volume", "market_cap"]
    got_dates = [ts.date() for ts in frame.index]
    assert got_dates == sorted(rows)
    for day, price, volume, cap in zip(
        got_dates,
        frame["price"].tolist(),
        frame["volume"].tolist(),
        frame["market_cap"].tolist(),
        strict=True,
    ):
        want = rows[day]
        assert _same(price, want[0]) and _same(volume, want[1]) and _same(cap, want[2]), (
            f"{day}: got {(price, volume, cap)}, want {want}"
        )
