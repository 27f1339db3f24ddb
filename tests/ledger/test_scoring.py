"""The track record's figures, checked against sums done by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from scipy import stats

from coincast.ledger.records import LedgerRow
from coincast.ledger.scoring import track_record


def _row(i: int, point: float, actual: float, naive: float = 100.0) -> LedgerRow:
    origin = date(2024, 1, 1) + timedelta(days=i)
    return LedgerRow(
        id=i, user="u", coin_id="c", model="m", version="1", origin_date=origin, horizon=1,
        target_date=origin + timedelta(days=1), point=point, lower=point - 2, upper=point + 2,
        naive=naive, source="cli", created_at=datetime.now(UTC), actual=actual,
        error=point - actual, naive_error=naive - actual, inside=abs(point - actual) <= 2,
    )  # fmt: skip


def test_windows_ratio_coverage_direction_and_dm() -> None:
    # 100 days: the model calls 101 when the price goes to 103 (error 2, naive's 3) on
    # even days, and to 97 on odd days (error 4, naive's 3, wrong direction, outside).
    rows = [_row(i, 101.0, 103.0 if i % 2 == 0 else 97.0) for i in range(100)]
    unscored = replace(_row(100, 101.0, 0.0), actual=None, error=None, naive_error=None)
    rows.append(unscored)
    thirty, ninety, every = track_record(rows)
    assert (thirty.window, ninety.window, every.window) == ("30d", "90d", "all")
    assert (thirty.n, ninety.n, every.n) == (30, 90, 100)  # the unscored row is left out
    assert every.mae == pytest.approx(3.0) and every.naive_mae == pytest.approx(3.0)
    assert every.mae_ratio == pytest.approx(1.0)
    assert every.coverage == pytest.approx(0.5)
    assert every.direction == pytest.approx(0.5) and every.direction_n == 100
    assert every.direction_p == pytest.approx(stats.binomtest(50, 100, 0.5, "greater").pvalue)
    assert every.dm_p is not None and every.dm_p > 0.05
    assert "no better than naive" in every.verdict


def test_dm_waits_for_enough_points_and_says_so() -> None:
    rows = [_row(i, 102.5, 103.0) for i in range(10)]  # always right, 0.5 off vs naive's 3
    (_, _, every) = track_record(rows)
    assert every.mae_ratio == pytest.approx(0.5 / 3.0)
    assert every.direction == 1.0 and every.direction_p == pytest.approx(0.5**10)
    assert every.dm_p is None and "needs 20" in every.verdict
    many = [_row(i, 102.5 + 0.01 * (i % 3), 103.0) for i in range(40)]
    assert "beats naive" in track_record(many)[-1].verdict
