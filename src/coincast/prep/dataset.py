"""History frame → scaled features, model targets and train/val/test samples.

The one place that decides what the model sees, so training, evaluation and the
forecast's metadata cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from coincast.data.frame import validate_history
from coincast.errors import DataError, InsufficientHistoryError
from coincast.prep.scaling import MinMaxScaler
from coincast.prep.windows import (
    SplitBounds,
    TargetKind,
    check_features,
    chronological_split,
    feature_matrix,
    sliding_windows,
    targets_for,
)

__all__ = ["Prepared", "contiguous_tail", "prepare"]

MIN_TRAIN_WINDOWS = 2  # a history must give at least this many windows' worth of train days


def contiguous_tail(history: pd.DataFrame) -> pd.DataFrame:
    """The most recent run of consecutive days with a positive price.

    Windows must be consecutive days; a gap the cleaner left (longer than
    ``max_gap_days``) starts a new series, and the recent one is what forecasts need.
    """
    frame = validate_history(history)
    frame = frame[frame["price"].notna() & (frame["price"] > 0)]
    if frame.empty:
        return frame
    gaps = np.flatnonzero(np.diff(frame.index.values).astype("timedelta64[D]").astype(int) != 1)
    start = int(gaps[-1]) + 1 if len(gaps) else 0
    return frame.iloc[start:]


@dataclass(frozen=True)
class Prepared:
    """Everything derived from one history for one (window, features, target) choice.

    Arrays are indexed by day (0..T-1); ``bounds`` says which target days are train,
    validation and test.
    """

    dates: pd.DatetimeIndex
    price: NDArray[np.float64]  # [T] USD
    volume: NDArray[np.float64]  # [T] USD
    market_cap: NDArray[np.float64]  # [T] USD (NaN where unknown)
    scaled: NDArray[np.float64]  # [T, F] model inputs; row 0 may hold NaN
    target: NDArray[np.float64]  # [T] model units (scaled price or return / ret_scale)
    scaler: MinMaxScaler
    ret_scale: float
    window: int
    features: tuple[str, ...]
    target_kind: TargetKind
    bounds: SplitBounds

    def samples(
        self, part: Literal["train", "val", "test"]
    ) -> tuple[torch.Tensor, torch.Tensor, NDArray[np.intp]]:
        """x [N, window, F] float32, y [N] float32, and the target day of each sample."""
        days = self.bounds.days(part)
        x = sliding_windows(self.scaled, days, self.window)
        y = self.target[days].astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy(y), days


def prepare(
    history: pd.DataFrame,
    *,
    window: int,
    features: Sequence[str],
    target: TargetKind,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    val_start: str | pd.Timestamp | None = None,
    test_start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    what: str = "this coin",
) -> Prepared:
    """Split, fit the scaler on the training days only, scale, and build targets.

    The input frame is never modified (everything is copied into new arrays).
    """
    feats = check_features(features, target)
    if window < 1:
        raise DataError("window must be at least 1 day.")
    frame = contiguous_tail(history)
    need = (MIN_TRAIN_WINDOWS + 1) * window + 1
    if len(frame) < need:
        raise InsufficientHistoryError(
            f"{what} has {len(frame)} consecutive clean days; a {window}-day window needs at "
            f"least {need}. Fetch more history (`coincast data fetch COIN --days 365`) or use "
            "a shorter --window."
        )
    price = frame["price"].to_numpy(dtype=np.float64, copy=True)
    volume = frame["volume"].to_numpy(dtype=np.float64, copy=True)
    mcap = frame["market_cap"].to_numpy(dtype=np.float64, copy=True)
    dates = pd.DatetimeIndex(frame.index.copy(), name="date")
    bounds = chronological_split(
        dates,
        window,
        val_frac=val_frac,
        test_frac=test_frac,
        val_start=val_start,
        test_start=test_start,
        end=end,
    )
    if bounds.val_start - bounds.first < window:
        raise InsufficientHistoryError(
            f"{what}: only {bounds.val_start - bounds.first} training days before the "
            f"validation period; need at least {window}. Move the split later or fetch more."
        )
    raw = feature_matrix(price, volume, mcap, feats)  # [T, F]
    # Fitted on the days training may read (inputs and targets before val_start), never later.
    scaler = MinMaxScaler.fit(raw[1 : bounds.val_start], names=feats)
    scaled = scaler.transform(raw)
    if "market_cap" in feats and not np.all(np.isfinite(raw[1:, feats.index("market_cap")])):
        raise DataError(f"{what} has days without market cap; drop 'market_cap' from the features.")
    if not np.all(np.isfinite(scaled[1:])):
        raise DataError(f"{what} has missing volume or price values; clean the history first.")
    scaled_price = scaled[:, feats.index("price")] if "price" in feats else None
    tgt = targets_for(price, target, scaled_price)
    ret_scale = 1.0
    if target == "return":
        train_ret = tgt[bounds.first : bounds.val_start]
        ret_scale = float(np.std(train_ret)) or 1.0
        tgt = tgt / ret_scale
    return Prepared(
        dates=dates,
        price=price,
        volume=volume,
        market_cap=mcap,
        scaled=scaled,
        target=tgt,
        scaler=scaler,
        ret_scale=ret_scale,
        window=window,
        features=feats,
        target_kind=target,
        bounds=bounds,
    )
