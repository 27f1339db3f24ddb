"""Min-max scaling fitted on the training split, stored with the model, inverted for users.

Why not ``sklearn.preprocessing.MinMaxScaler``: it is not pinned, it would pull
scikit-learn (and joblib, threadpoolctl) into every install for two lines of numpy, and
its fitted state lives in attributes that people persist with pickle. This class is a
frozen value: ``to_dict``/``from_dict`` give plain JSON that travels in a TF.js
``model.json``'s ``userDefinedMetadata``, and loading it executes nothing.

Fitted on the training split only: the test period's highs would otherwise leak into
training (a model that "knows" bitcoin reaches 100k scores deceptively well).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from coincast.errors import DataError, ModelFormatError, ParameterError

__all__ = ["MinMaxScaler"]


@dataclass(frozen=True)
class MinMaxScaler:
    """Per-feature ``(x - min) / (max - min)``; constant features map to 0, not NaN.

    >>> s = MinMaxScaler.fit([[1.0, 10.0], [3.0, 30.0]], names=("price", "volume"))
    >>> s.transform([[2.0, 20.0]]).tolist()
    [[0.5, 0.5]]
    >>> float(s.inverse_column([0.5], "price")[0])
    2.0
    """

    names: tuple[str, ...]
    mins: tuple[float, ...]
    maxs: tuple[float, ...]

    def __post_init__(self) -> None:
        if not (len(self.names) == len(self.mins) == len(self.maxs)) or not self.names:
            raise ModelFormatError("scaler: names, mins and maxs must have the same length.")
        if not all(np.isfinite(self.mins)) or not all(np.isfinite(self.maxs)):
            raise ModelFormatError("scaler: mins and maxs must be finite numbers.")

    @classmethod
    def fit(cls, values: ArrayLike, names: Sequence[str]) -> MinMaxScaler:
        """values: [rows, features] from the TRAINING split only."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(names):
            raise DataError(f"scaler: expected [rows, {len(names)}] values, got {arr.shape}.")
        if arr.shape[0] == 0:
            raise DataError("scaler: no training rows to fit on.")
        if not np.all(np.isfinite(arr)):
            bad = [n for k, n in enumerate(names) if not np.isfinite(arr[:, k]).all()]
            raise DataError(
                f"scaler: feature(s) {', '.join(bad)} have missing or infinite values in the "
                "training period. Clean the history (`coincast data clean`) or drop the feature."
            )
        return cls(
            names=tuple(names),
            mins=tuple(float(v) for v in arr.min(axis=0)),
            maxs=tuple(float(v) for v in arr.max(axis=0)),
        )

    @cached_property
    def _span(self) -> NDArray[np.float64]:
        """max - min per feature (1 where constant); cached: forecasts call this per day."""
        span = np.asarray(self.maxs) - self._min
        out: NDArray[np.float64] = np.where(span > 0, span, 1.0)
        return out

    @cached_property
    def _min(self) -> NDArray[np.float64]:
        return np.asarray(self.mins, dtype=np.float64)

    def transform(self, values: ArrayLike) -> NDArray[np.float64]:
        """[..., features] → same shape; values outside the training range go outside [0, 1]."""
        arr = np.asarray(values, dtype=np.float64)
        out: NDArray[np.float64] = (arr - self._min) / self._span
        return out

    def inverse_transform(self, scaled: ArrayLike) -> NDArray[np.float64]:
        arr = np.asarray(scaled, dtype=np.float64)
        out: NDArray[np.float64] = arr * self._span + self._min
        return out

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise DataError(f"scaler has no feature {name!r} (has {list(self.names)}).") from None

    def inverse_column(self, scaled: ArrayLike, name: str) -> NDArray[np.float64]:
        """Undo the scaling of one feature (e.g. the model's scaled price) → user units."""
        k = self.index(name)
        arr = np.asarray(scaled, dtype=np.float64)
        return arr * float(self._span[k]) + self.mins[k]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "minmax",
            "names": list(self.names),
            "min": list(self.mins),
            "max": list(self.maxs),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MinMaxScaler:
        """Read what ``to_dict`` wrote; anything else is a ModelFormatError, never a crash."""
        try:
            if data.get("kind", "minmax") != "minmax":
                raise ParameterError(f"unknown scaler kind {data.get('kind')!r}")
            return cls(
                names=tuple(str(n) for n in data["names"]),
                mins=tuple(float(v) for v in data["min"]),
                maxs=tuple(float(v) for v in data["max"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFormatError(
                f"model metadata has an invalid scaler ({exc}); re-train or re-export the model."
            ) from exc
