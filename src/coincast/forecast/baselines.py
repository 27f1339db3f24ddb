"""Baselines every model is judged against, on exactly the same origins and targets.

Naive ("tomorrow = today") is the hard one for daily crypto prices: it is the best
forecast of a random walk, and a model that cannot beat it has learnt nothing usable.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["drift", "naive"]


def naive(last_price: NDArray[np.float64], horizon: int) -> NDArray[np.float64]:
    """last_price [N] → [N, horizon]: every future day equals the last known price."""
    return np.repeat(np.asarray(last_price, dtype=np.float64)[:, None], horizon, axis=1)


def drift(
    price: NDArray[np.float64], origins: NDArray[np.intp], horizon: int, lookback: int = 365
) -> NDArray[np.float64]:
    """Random walk with drift: the last price plus h times the average daily change over
    the ``lookback`` days up to each origin (Hyndman's drift method on a trailing window,
    so a decade-old price level does not set today's trend).

    price [T], origins [N] (index of the last known day) → [N, horizon].
    """
    p = np.asarray(price, dtype=np.float64)
    start = np.maximum(origins - lookback, 0)
    span = np.maximum(origins - start, 1)
    slope = (p[origins] - p[start]) / span  # [N] USD/day
    steps = np.arange(1, horizon + 1, dtype=np.float64)
    return p[origins][:, None] + slope[:, None] * steps[None, :]
