"""coincast: cryptocurrency price forecasting with LSTMs, honest about its accuracy.

Forecasts are decision support, not financial advice.
"""

from __future__ import annotations

from coincast.errors import CoincastError
from coincast.settings import Settings

__version__ = "0.1.0"

__all__ = ["CoincastError", "Settings", "__version__"]
