"""Cleaning a daily history: a calendar without holes, usable volumes, and a report.

What it does, in order, and why each step is safe for forecasting:

1. **Invalid values** (price ≤ 0, negative volume or market cap) become missing: no market
   trades at a price of zero, and a later step treats them like any missing day.
2. **Reindex** to every calendar day between the first and last row: windows assume one
   step is one day.
3. **Long gaps split** the series: a run of more than ``max_gap_days`` missing days cannot
   be bridged honestly, so only the latest contiguous segment is kept (the recent past is
   what forecasts need).
4. **The leading zero-volume prefix is dropped**: early sources report volume 0 where they
   simply had no volume data (bitcoin before 2013-12-27); a model would learn a fake regime.
5. **Short gaps are interpolated** linearly (price and volume; market cap only where both
   neighbours have one).
6. **Impossible volume spikes are clipped** to the trailing median. A day is a spike when
   its log10 volume lies more than ``spike_threshold`` robust standard deviations
   (1.4826 × MAD of the previous ``spike_window`` days) above their median **and** is at
   least ``spike_min_ratio`` times that median. Both conditions matter: the MAD rule alone
   fires on calm, tightly clustered stretches at a 3× day; the ratio alone fires on thin
   early markets. Trailing windows mean a day is judged only by its past, like a forecast.

Prices of existing days are never modified: genuine crashes and rallies (2020-03-12/13,
dogecoin +221 % on 2013-12-19) are what the model must learn. A row can only be *dropped*
(steps 3-4), and every change of any kind is listed in the :class:`CleaningReport`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from coincast.data.frame import HISTORY_COLUMNS, validate_history
from coincast.errors import DataError
from coincast.settings import Settings

__all__ = ["clean", "CleaningParams", "CleaningReport", "Change", "find_volume_spikes"]

# MAD x 1.4826 estimates the standard deviation of normally distributed data.
_MAD_TO_SIGMA = 1.4826
# A window of identical volumes has MAD 0; this floor (in log10 units) keeps z finite.
_MIN_SIGMA = 1e-3
_MAX_SPIKE_PASSES = 5


@dataclass(frozen=True)
class CleaningParams:
    max_gap_days: int = 3
    spike_threshold: float = 20.0
    spike_min_ratio: float = 100.0
    spike_window: int = 30
    spike_min_periods: int = 7
    drop_zero_volume_prefix: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> CleaningParams:
        return cls(max_gap_days=settings.max_gap_days, spike_threshold=settings.spike_threshold)


@dataclass(frozen=True)
class Change:
    """One edit: ``column`` None means whole rows (``start`` … ``end``) were dropped."""

    kind: str
    start: date
    end: date
    column: str | None
    before: float | None
    after: float | None
    reason: str

    def covers(self, day: date, column: str | None = None) -> bool:
        in_range = self.start <= day <= self.end
        return in_range and (self.column is None or column is None or self.column == column)


@dataclass
class CleaningReport:
    """Every change ``clean`` made, in the order made; renders as a table."""

    rows_in: int
    rows_out: int = 0
    first: date | None = None
    last: date | None = None
    changes: list[Change] = field(default_factory=list)

    HEADER = ("kind", "date(s)", "column", "before", "after", "reason")

    def add(
        self,
        kind: str,
        start: date,
        end: date | None = None,
        column: str | None = None,
        before: float | None = None,
        after: float | None = None,
        reason: str = "",
    ) -> None:
        self.changes.append(Change(kind, start, end or start, column, before, after, reason))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for change in self.changes:
            out[change.kind] = out.get(change.kind, 0) + 1
        return out

    def covers(self, day: date, column: str | None = None) -> bool:
        return any(c.covers(day, column) for c in self.changes)

    def rows(self) -> list[tuple[str, str, str, str, str, str]]:
        """String cells in ``HEADER`` order (the CLI draws them with rich)."""
        return [
            (
                c.kind,
                str(c.start) if c.start == c.end else f"{c.start} … {c.end}",
                c.column or "(rows)",
                _fmt(c.before),
                _fmt(c.after),
                c.reason,
            )
            for c in self.changes
        ]

    def summary(self) -> str:
        span = f"{self.first} … {self.last}" if self.first else "no rows"
        kinds = ", ".join(f"{k}: {n}" for k, n in self.counts().items()) or "no changes"
        return f"{self.rows_in} rows in, {self.rows_out} rows out ({span}); {kinds}"

    def __str__(self) -> str:
        cells = [self.HEADER, *self.rows()]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.HEADER))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join([self.summary(), *[line.rstrip() for line in lines]])


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.6g}"


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) positions of each run of True values."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _day(ts: pd.Timestamp) -> date:
    return ts.date()


def find_volume_spikes(volume: pd.Series, params: CleaningParams) -> tuple[pd.Series, pd.Series]:
    """Spike mask and the trailing median volume of each day (NaN where unknown)."""
    values = volume.to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        logv = np.where(values > 0, np.log10(values), np.nan)
    w = params.spike_window
    n = len(logv)
    # windows[i] = the w days before day i (NaN-padded at the start).
    padded = np.concatenate([np.full(w, np.nan), logv[:-1] if n else logv])
    windows = sliding_window_view(padded, w)[:n]
    enough = np.sum(~np.isnan(windows), axis=1) >= params.spike_min_periods
    median = np.full(n, np.nan)
    sigma = np.full(n, np.nan)
    if enough.any():
        good = windows[enough]
        med = np.nanmedian(good, axis=1)
        mad = np.nanmedian(np.abs(good - med[:, None]), axis=1)
        median[enough] = med
        sigma[enough] = np.maximum(_MAD_TO_SIGMA * mad, _MIN_SIGMA)
    with np.errstate(invalid="ignore"):
        excess = logv - median
        spike = (excess > params.spike_threshold * sigma) & (
            excess >= math.log10(params.spike_min_ratio)
        )
    return (
        pd.Series(spike, index=volume.index),
        pd.Series(np.power(10.0, median), index=volume.index),
    )


def clean(
    frame: pd.DataFrame, params: Settings | CleaningParams | None = None
) -> tuple[pd.DataFrame, CleaningReport]:
    """Clean a history frame (not modified); return the new frame and what changed."""
    if isinstance(params, Settings):
        params = CleaningParams.from_settings(params)
    params = params or CleaningParams()
    f = validate_history(frame).copy()
    report = CleaningReport(rows_in=len(f))
    if f.empty:
        raise DataError("Cannot clean an empty history: fetch or import data first.")
    original_index = f.index

    # 1. invalid values become missing
    for column, rule, why in (
        ("price", f["price"] <= 0, "price must be positive"),
        ("volume", f["volume"] < 0, "volume cannot be negative"),
        ("market_cap", f["market_cap"] < 0, "market cap cannot be negative"),
    ):
        for ts in f.index[rule.to_numpy()]:
            before = float(f[column].loc[ts])
            report.add("invalid_value", _day(ts), None, column, before, None, why)
        f.loc[rule, column] = np.nan

    # 2. full daily calendar
    calendar = pd.date_range(f.index[0], f.index[-1], freq="D", name="date")
    f = f.reindex(calendar)
    is_new_day = ~calendar.isin(original_index)

    # 3. split on long gaps; trim unfillable edges
    missing = (f["price"].isna() | f["volume"].isna()).to_numpy()
    runs = _runs(missing)
    long_runs = [(a, b) for a, b in runs if b - a + 1 > params.max_gap_days]
    keep_from = 0
    if long_runs:
        a, b = long_runs[-1]
        keep_from = b + 1
        report.add(
            "split",
            _day(f.index[0]),
            _day(f.index[b]),
            reason=(
                f"{b - a + 1} missing day(s) {_day(f.index[a])} … {_day(f.index[b])} exceed "
                f"max_gap_days={params.max_gap_days}; kept the latest contiguous segment"
            ),
        )
    stop = len(f)
    for a, b in runs:
        edge = None
        if a == keep_from:
            edge, keep_from = "leading", b + 1
        elif b == len(f) - 1 and a > keep_from:
            edge, stop = "trailing", a
        if edge:
            report.add(
                "trim",
                _day(f.index[a]),
                _day(f.index[b]),
                reason=f"{edge} missing day(s): nothing to interpolate from",
            )
    f, is_new_day = f.iloc[keep_from:stop], is_new_day[keep_from:stop]
    if f.empty:
        raise DataError("No usable rows left after removing long gaps; fetch fresher data.")

    # 4. leading zero-volume prefix
    if params.drop_zero_volume_prefix:
        traded = np.flatnonzero((f["volume"] > 0).to_numpy())
        if len(traded) and traded[0] > 0:
            cut = int(traded[0])
            report.add(
                "zero_volume_prefix",
                _day(f.index[0]),
                _day(f.index[cut - 1]),
                reason=f"{cut} leading day(s) with zero volume (source had no volume data)",
            )
            f, is_new_day = f.iloc[cut:], is_new_day[cut:]

    # 5. interpolate the short gaps that remain
    f = f.copy()
    for column in ("price", "volume"):
        gaps = f[column].isna().to_numpy()
        if gaps.any():
            filled = f[column].interpolate(method="linear", limit_area="inside")
            for ts in f.index[gaps]:
                report.add(
                    "filled_gap",
                    _day(ts),
                    column=column,
                    after=float(filled[ts]),
                    reason="linear interpolation of a short gap",
                )
            f[column] = filled
    if is_new_day.any():
        cap = f["market_cap"].interpolate(method="linear", limit_area="inside")
        fill = is_new_day & f["market_cap"].isna().to_numpy() & cap.notna().to_numpy()
        for ts in f.index[fill]:
            report.add(
                "filled_gap",
                _day(ts),
                column="market_cap",
                after=float(cap[ts]),
                reason="linear interpolation of a short gap",
            )
        f.loc[fill, "market_cap"] = cap[fill]

    # 6. impossible volume spikes (repeat: a clipped spike may have hidden a second one)
    for _ in range(_MAX_SPIKE_PASSES):
        spikes, median = find_volume_spikes(f["volume"], params)
        if not spikes.any():
            break
        for ts in f.index[spikes.to_numpy()]:
            before, after = float(f["volume"].loc[ts]), float(median.loc[ts])
            report.add(
                "volume_spike",
                _day(ts),
                column="volume",
                before=before,
                after=after,
                reason=(
                    f"{before / after:,.0f}x the median of the previous "
                    f"{params.spike_window} days; clipped to that median"
                ),
            )
            f.at[ts, "volume"] = after

    out = validate_history(f.loc[:, list(HISTORY_COLUMNS)], what="cleaned history")
    report.rows_out = len(out)
    report.first, report.last = _day(out.index[0]), _day(out.index[-1])
    return out, report
