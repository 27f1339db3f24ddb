"""Synthetic daily histories in the market cache's shape (``price``, ``volume``,
``market_cap`` on a daily ``date`` index), for tests that need a series they know.

Seeds and formulas are fixed on purpose: tests that assert a model beats (or does not
beat) the naive forecast were checked on exactly these numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

__all__ = ["history", "noisy_volume", "random_walk", "sine"]


def history(
    price: ArrayLike,
    volume: ArrayLike | None = None,
    *,
    cap_ratio: float = 1e3,
    start: str = "2020-01-01",
) -> pd.DataFrame:
    """A daily frame from ``start``; market cap is price × ``cap_ratio``. Without a volume,
    volume counts up from 100: distinct, positive, and easy to check by hand."""
    prices = np.asarray(price, dtype=float)
    n = len(prices)
    return pd.DataFrame(
        {
            "price": prices,
            "volume": np.arange(n, dtype=float) + 100.0 if volume is None else volume,
            "market_cap": prices * cap_ratio,
        },
        index=pd.date_range(start, periods=n, freq="D", name="date"),
    )


def noisy_volume(n: int, rng: int | np.random.Generator = 7) -> NDArray[np.float64]:
    """Volume within 10% above one million, drawn from ``rng`` (a seed or a generator)."""
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return 1e6 * (1 + 0.1 * gen.random(n))


def sine(
    n: int = 500,
    *,
    period: float = 25.0,
    trend: float = 0.0,
    volume: ArrayLike | None = None,
    cap_ratio: float = 1e3,
    start: str = "2020-01-01",
) -> pd.DataFrame:
    """Price 100 ± 20 with the given period in days, plus ``trend`` per day: a series a model
    can learn and the naive forecast cannot follow. Volume is ``noisy_volume`` unless given."""
    t = np.arange(n)
    price = 100 + 20 * np.sin(2 * np.pi * t / period) + trend * t
    vol = noisy_volume(n) if volume is None else volume
    return history(price, vol, cap_ratio=cap_ratio, start=start)


def random_walk(
    n: int = 700,
    seed: int = 11,
    *,
    step: float = 0.03,
    first: float = 100.0,
    volume_seed: int | None = 7,
    cap_ratio: float = 1e3,
    start: str = "2020-01-01",
) -> pd.DataFrame:
    """A geometric random walk from ``first`` (daily log-returns with sd ``step``): nothing
    beats the naive forecast on it. ``volume_seed=None`` draws the volume from the walk's
    own generator, after the prices."""
    rng = np.random.default_rng(seed)
    price = first * np.exp(np.cumsum(rng.normal(0, step, n)))
    vol = noisy_volume(n, rng if volume_seed is None else volume_seed)
    return history(price, vol, cap_ratio=cap_ratio, start=start)
