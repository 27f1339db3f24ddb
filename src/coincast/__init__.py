"""coincast: cryptocurrency price forecasting with LSTMs, honest about its accuracy.

>>> import coincast
>>> history = coincast.load_history("bitcoin")            # doctest: +SKIP
>>> fc = coincast.Forecaster("paper").fit(history)        # doctest: +SKIP
>>> fc.forecast(days=7)                                   # doctest: +SKIP

Forecasts are decision support, not financial advice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coincast.errors import CoincastError
from coincast.settings import Settings
from coincast.version import __version__

if TYPE_CHECKING:
    from coincast.api import (
        Ensemble,
        Evaluation,
        Forecaster,
        GlobalForecaster,
        backtest,
        load_history,
        load_stored,
        save,
        train_further,
    )

__all__ = [
    "CoincastError",
    "Ensemble",
    "Evaluation",
    "Forecaster",
    "GlobalForecaster",
    "Settings",
    "__version__",
    "backtest",
    "load_history",
    "load_stored",
    "save",
    "train_further",
]

# The forecasting API pulls in torch and pandas; importing it lazily keeps
# ``import coincast`` (settings, errors) light for tools that never forecast.
_LAZY = {
    "Ensemble",
    "Evaluation",
    "Forecaster",
    "GlobalForecaster",
    "backtest",
    "load_history",
    "load_stored",
    "save",
    "train_further",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from coincast import api

        return getattr(api, name)
    raise AttributeError(f"module 'coincast' has no attribute {name!r}")
