"""Score forecasts whose target day is stored, and sum a model's track record.

Realised prices are the stored daily rows as fetched or imported (not the cleaned series:
a forecast is judged against what the market printed). A score is written once; a later
import that corrects a day does not rewrite history already scored.

The track record uses the same tests as a backtest (``coincast.forecast``): MAE beside
naive's on the same forecasts, interval coverage, the direction of change (hits against a
fair coin, one-sided binomial p: can it call direction better than chance?), and
Diebold–Mariano against naive once ``MIN_DM_POINTS`` are scored. Windows are by target
day, counted back from the newest scored day: the last 30 and 90 days, and all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from scipy import stats
from sqlalchemy import select

from coincast.data.market.schema import daily_table
from coincast.forecast.evaluate import diebold_mariano
from coincast.json_values import finite
from coincast.ledger.records import Ledger, LedgerRow

__all__ = ["score_known", "track_record", "TrackRecord", "WINDOWS", "MIN_DM_POINTS"]

WINDOWS: tuple[tuple[str, int | None], ...] = (("30d", 30), ("90d", 90), ("all", None))
MIN_DM_POINTS = 20


def score_known(ledger: Ledger, coin_id: str | None = None) -> int:
    """Score every unscored forecast (of every user) whose target day is stored now."""
    pending = ledger.unscored(coin_id)
    if not pending:
        return 0
    by_coin: dict[str, list[LedgerRow]] = defaultdict(list)
    for row in pending:
        by_coin[row.coin_id].append(row)
    scores: list[dict[str, Any]] = []
    with ledger.engine.connect() as conn:
        for coin, rows in by_coin.items():
            first = min(r.target_date for r in rows)
            prices = {
                d: float(p)
                for d, p in conn.execute(
                    select(daily_table.c.date, daily_table.c.price).where(
                        daily_table.c.coin_id == coin, daily_table.c.date >= first
                    )
                ).all()
            }
            scores += [_score(r, prices[r.target_date]) for r in rows if r.target_date in prices]
    ledger.add_scores(scores)
    return len(scores)


def _score(row: LedgerRow, actual: float) -> dict[str, Any]:
    inside = None
    if row.lower is not None and row.upper is not None:
        inside = row.lower <= actual <= row.upper
    return {
        "forecast_id": row.id,
        "actual": actual,
        "error": row.point - actual,
        "naive_error": row.naive - actual,
        "inside": inside,
    }


@dataclass(frozen=True)
class TrackRecord:
    """One window's score of one model (all horizons pooled)."""

    window: str
    n: int
    mae: float
    naive_mae: float
    mae_ratio: float  # below 1: better than naive on these forecasts
    coverage: float  # share of realised prices inside the interval
    direction: float  # share of called directions that were right
    direction_n: int
    direction_p: float  # one-sided binomial p against a fair coin
    dm_statistic: float | None
    dm_p: float | None
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {k: finite(v) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def track_record(rows: list[LedgerRow], today: date | None = None) -> list[TrackRecord]:
    """The 30-day, 90-day and all-time record of ``rows`` (one model's, scored or not)."""
    scored = [r for r in rows if r.scored]
    end = today or max((r.target_date for r in scored), default=None)
    out = []
    for name, days in WINDOWS:
        picked = scored
        if days is not None and end is not None:
            picked = [r for r in scored if r.target_date > end - timedelta(days=days)]
        out.append(_window(name, picked))
    return out


def _window(name: str, rows: list[LedgerRow]) -> TrackRecord:
    nan = float("nan")
    if not rows:
        return TrackRecord(
            name, 0, nan, nan, nan, nan, nan, 0, nan, None, None, "nothing scored yet"
        )
    err = np.array([r.error for r in rows], dtype=np.float64)
    nerr = np.array([r.naive_error for r in rows], dtype=np.float64)
    mae, naive_mae = float(np.mean(np.abs(err))), float(np.mean(np.abs(nerr)))
    ratio = mae / naive_mae if naive_mae > 0 else nan
    inside = [r.inside for r in rows if r.inside is not None]
    coverage = float(np.mean(inside)) if inside else nan
    called = [(r.point - r.naive, (r.actual or 0.0) - r.naive) for r in rows if r.point != r.naive]
    hits = sum(1 for p, a in called if np.sign(p) == np.sign(a))
    direction = hits / len(called) if called else nan
    p_dir = float(stats.binomtest(hits, len(called), 0.5, "greater").pvalue) if called else nan
    dm_stat = dm_p = None
    verdict = f"{len(rows)} scored; Diebold–Mariano needs {MIN_DM_POINTS}."
    if len(rows) >= MIN_DM_POINTS:
        dm = diebold_mariano(err, nerr, horizon=max(r.horizon for r in rows))
        dm_stat, dm_p = dm.statistic, dm.p_value
        verdict = {
            "model": f"beats naive (Diebold–Mariano p = {dm.p_value:.3g})",
            "naive": f"naive beats it (Diebold–Mariano p = {dm.p_value:.3g})",
            "neither": f"no better than naive (Diebold–Mariano p = {dm.p_value:.3g})",
        }[dm.better]
    return TrackRecord(
        name, len(rows), mae, naive_mae, ratio, coverage, direction, len(called), p_dir,
        dm_stat, dm_p, verdict,
    )  # fmt: skip
