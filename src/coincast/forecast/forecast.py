"""Iterative multi-day forecasts: predict one day, append it, slide the window, repeat.

How the features of a predicted day are filled in (the model only predicts the price):

- ``price``: the prediction itself; ``log_return``: recomputed from it;
- ``volume``: held at the last observed value (no volume model; holding it keeps the
  input inside the range the model saw, where extrapolating a trend would not);
- ``market_cap``: moved with the price (circulating supply assumed constant for the
  horizon).

Every step can be shrunk: the implied one-day log return is multiplied by
``shrink`` (1 = the network as trained, 0 = naive). Many origins are forecast at once as
one batch, which is how evaluation and conformal calibration stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from coincast.errors import ParameterError
from coincast.model.lstm import LSTMRegressor
from coincast.prep.scaling import MinMaxScaler
from coincast.prep.windows import TargetKind, feature_matrix

__all__ = ["ForecastSpec", "append_day", "forecast_frame", "predict_paths"]

# A level model extrapolating below zero is clipped to this fraction of the last price.
MIN_PRICE_RATIO = 1e-3


@dataclass(frozen=True)
class ForecastSpec:
    """What turns a trained network into prices (everything but the weights)."""

    window: int
    features: tuple[str, ...]
    target: TargetKind
    scaler: MinMaxScaler
    ret_scale: float = 1.0
    shrink: float = 1.0


def predict_paths(
    model: LSTMRegressor,
    spec: ForecastSpec,
    price: NDArray[np.float64],
    volume: NDArray[np.float64],
    market_cap: NDArray[np.float64],
    horizon: int,
) -> NDArray[np.float64]:
    """Forecast ``horizon`` days after each row's last day.

    price/volume/market_cap: [B, L] USD with L ≥ window + 1 (the extra day gives the first
    window day its log return) → [B, horizon] USD.
    """
    w = spec.window
    batch, length = price.shape
    if length < w + 1:
        raise ParameterError(f"need at least {w + 1} days per origin, got {length}")
    buf_len = w + 1 + horizon
    p = np.empty((batch, buf_len))
    v = np.empty((batch, buf_len))
    m = np.empty((batch, buf_len))
    p[:, : w + 1] = price[:, -(w + 1) :]
    v[:, : w + 1] = volume[:, -(w + 1) :]
    m[:, : w + 1] = market_cap[:, -(w + 1) :]
    k_price = spec.scaler.index("price") if spec.target == "level" else -1
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for h in range(horizon):
                lo, hi = h, h + w + 1  # the window+1 days ending at the last known day
                raw = feature_matrix(p[:, lo:hi], v[:, lo:hi], m[:, lo:hi], spec.features)
                x = torch.from_numpy(spec.scaler.transform(raw[:, 1:, :]).astype(np.float32))
                y = model(x).double().numpy()  # [B] model units
                append_day(spec, k_price, y, p, v, m, hi)
    finally:
        model.train(was_training)
    return p[:, w + 1 :]


def append_day(
    spec: ForecastSpec,
    k_price: int,
    y: NDArray[np.float64],
    p: NDArray[np.float64],
    v: NDArray[np.float64],
    m: NDArray[np.float64],
    day: int,
) -> None:
    """Turn the network's output y [B] for buffer day ``day`` into that day's price, volume
    and market cap (written in place). One function for both paths, so they cannot drift."""
    last = p[:, day - 1]
    if spec.target == "level":
        level = spec.scaler.inverse_column(y, spec.scaler.names[k_price])
        level = np.maximum(level, last * MIN_PRICE_RATIO)
        ret = np.log(level / last)
    else:
        ret = y * spec.ret_scale
    nxt = last * np.exp(spec.shrink * ret)
    p[:, day] = nxt
    v[:, day] = v[:, day - 1]
    m[:, day] = m[:, day - 1] * (nxt / last)


def forecast_frame(
    last_date: pd.Timestamp,
    forecast: NDArray[np.float64],
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
    last_price: float,
) -> pd.DataFrame:
    """The tidy output users see: one row per future day, all in USD."""
    horizon = len(forecast)
    dates = pd.date_range(last_date + pd.Timedelta(days=1), periods=horizon, freq="D")
    return pd.DataFrame(
        {
            "date": dates,
            "forecast": np.asarray(forecast, dtype=np.float64),
            "lower": np.asarray(lower, dtype=np.float64),
            "upper": np.asarray(upper, dtype=np.float64),
            "naive": np.full(horizon, float(last_price)),
        }
    )
