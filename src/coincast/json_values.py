"""Plain JSON values from numbers that may be NaN, infinite or numpy scalars.

Model metadata, API responses and summary tables all end up in JSON read by
``JSON.parse`` (the browser, TF.js), which rejects NaN and Infinity: "unknown" is
``null`` there. One conversion, so every writer agrees on it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["finite", "finite_list", "json_safe"]


def finite(value: Any) -> float | None:
    """A float, or None for None, NaN and ±inf."""
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def finite_list(values: Iterable[Any]) -> list[float | None]:
    return [finite(v) for v in values]


def json_safe(value: Any) -> Any:
    """Nested dicts/lists with NaN/inf as None and numpy scalars as Python numbers.

    Anything else is returned as it is; a caller that must be sure the result
    serialises (``json.dumps(..., allow_nan=False)``) checks that itself.
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return finite(value)
    return value
