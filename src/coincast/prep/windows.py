"""Features, targets, sliding windows and the chronological split.

Indexing convention, used by training, forecasting and evaluation alike: day ``t`` of a
history has features ``F[t]``; the sample whose *target day* is ``t`` reads the window
``F[t - window : t]`` (the ``window`` days before ``t``) and predicts ``target[t]``.
Day 0 has no previous price, so no feature row is usable before day 1 and the first
target day is ``window + 1``. Samples are assigned to train/val/test by their target
day, and every input day precedes its target day, so no window can carry a test target
into training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from coincast.errors import DataError, ParameterError

__all__ = [
    "FEATURES",
    "TARGETS",
    "SplitBounds",
    "TargetKind",
    "check_features",
    "chronological_split",
    "feature_matrix",
    "sliding_windows",
    "targets_for",
]

FEATURES = ("price", "volume", "log_return", "market_cap")
TARGETS = ("level", "return")
TargetKind = Literal["level", "return"]


def check_features(features: Sequence[str], target: str) -> tuple[str, ...]:
    feats = tuple(features)
    unknown = [f for f in feats if f not in FEATURES]
    if unknown or not feats:
        raise ParameterError(
            f"unknown feature(s) {unknown or '[]'}; choose from {', '.join(FEATURES)}."
        )
    if len(set(feats)) != len(feats):
        raise ParameterError(f"features must not repeat: {list(feats)}.")
    if target not in TARGETS:
        raise ParameterError(f"unknown target {target!r}; choose 'level' or 'return'.")
    if target == "level" and "price" not in feats:
        raise ParameterError(
            "a 'level' target predicts the scaled price, so 'price' must be a feature."
        )
    return feats


def feature_matrix(
    price: NDArray[np.float64],
    volume: NDArray[np.float64],
    market_cap: NDArray[np.float64],
    features: Sequence[str],
) -> NDArray[np.float64]:
    """Raw (unscaled) features. Inputs [..., T] → [..., T, F]; row 0's log-return is NaN.

    Works on a batch of series too ([B, T]), which is how the iterative forecast
    recomputes the features of predicted days.
    """
    cols: list[NDArray[np.float64]] = []
    for name in features:
        if name == "price":
            cols.append(price)
        elif name == "volume":
            cols.append(volume)
        elif name == "market_cap":
            cols.append(market_cap)
        elif name == "log_return":
            lr = np.full_like(price, np.nan)
            lr[..., 1:] = np.log(price[..., 1:] / price[..., :-1])
            cols.append(lr)
        else:  # pragma: no cover - check_features guards this
            raise ParameterError(f"unknown feature {name!r}")
    return np.stack(cols, axis=-1)


def targets_for(
    price: NDArray[np.float64], target: TargetKind, scaled_price: NDArray[np.float64] | None
) -> NDArray[np.float64]:
    """Target per day [T]: the scaled price ("level", the paper) or the log return from the
    previous day ("return"); day 0 is NaN for a return (no previous price)."""
    if target == "level":
        if scaled_price is None:
            raise ParameterError("a level target needs the scaled price column.")
        return np.asarray(scaled_price, dtype=np.float64)
    out = np.full_like(price, np.nan)
    out[1:] = np.log(price[1:] / price[:-1])
    return out


def sliding_windows(
    features: NDArray[np.float64], target_days: NDArray[np.intp], window: int
) -> NDArray[np.float32]:
    """features [T, F], target days [N] → inputs [N, window, F] (float32, a copy).

    Each sample's window ends the day before its target day.
    """
    if len(target_days) and int(target_days.min()) < window + 1:
        raise DataError(f"target day {int(target_days.min())} has no full {window}-day window.")
    offsets = np.arange(-window, 0)
    idx = target_days[:, None] + offsets[None, :]  # [N, window]
    return np.ascontiguousarray(features[idx], dtype=np.float32)


@dataclass(frozen=True)
class SplitBounds:
    """Target days ``[first, val_start)`` train, ``[val_start, test_start)`` validate,
    ``[test_start, end)`` test (indices into the history)."""

    first: int
    val_start: int
    test_start: int
    end: int

    def days(self, part: Literal["train", "val", "test"]) -> NDArray[np.intp]:
        lo, hi = {
            "train": (self.first, self.val_start),
            "val": (self.val_start, self.test_start),
            "test": (self.test_start, self.end),
        }[part]
        return np.arange(lo, hi, dtype=np.intp)


def chronological_split(
    dates: pd.DatetimeIndex,
    window: int,
    *,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    val_start: str | pd.Timestamp | None = None,
    test_start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> SplitBounds:
    """Split the usable target days in time order, by dates when given, else by fractions.

    ``end`` (a date, exclusive) lets a benchmark stop the test period early.
    """
    first = window + 1
    n_days = len(dates)
    stop = n_days if end is None else int(dates.searchsorted(pd.Timestamp(end), side="left"))
    n = stop - first
    if n <= 0:
        raise DataError(f"{n_days} days are too few for a {window}-day window.")
    if not (0.0 <= val_frac < 1.0 and 0.0 <= test_frac < 1.0 and val_frac + test_frac < 1.0):
        raise ParameterError("val_frac and test_frac must be in [0, 1) and sum below 1.")
    t_start = (
        stop - round(n * test_frac)
        if test_start is None
        else int(dates.searchsorted(pd.Timestamp(test_start), side="left"))
    )
    v_start = (
        t_start - round(n * val_frac)
        if val_start is None
        else int(dates.searchsorted(pd.Timestamp(val_start), side="left"))
    )
    t_start = min(max(t_start, first), stop)
    v_start = min(max(v_start, first), t_start)
    return SplitBounds(first=first, val_start=v_start, test_start=t_start, end=stop)
