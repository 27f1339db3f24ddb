"""A coincast whose CoinGecko is unreachable (a closed loopback port), with imported CSVs.

What a user has after `coincast data import` on a machine without internet: the tests of
the offline coin list, history and page start from here.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.settings import Settings
from tests.conftest import SHARED_DIR
from tests.helpers.live_server import LiveServer, serve

__all__ = ["closed_port", "import_csvs", "offline_settings", "serve_offline"]


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def offline_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        shared_dir=SHARED_DIR,
        coingecko_url=f"http://127.0.0.1:{closed_port()}/api/v3",
        max_retries=0,
        backoff_max=0.1,
        http_timeout=2.0,
        **overrides,
    )


def import_csvs(settings: Settings, daily_dir: Path, *coins: str) -> None:
    """``coincast data import daily/COIN.csv --coin COIN`` for each coin."""
    cache = MarketCache(settings)
    for coin in coins:
        cache.upsert_history(coin, read_history_csv(daily_dir / f"{coin}.csv"), source="csv")


@contextmanager
def serve_offline(daily_dir: Path, data_dir: Path, today: date) -> Iterator[LiveServer]:
    """A live server offline with bitcoin and tether imported, its calendar at ``today``."""
    settings = offline_settings(data_dir)
    import_csvs(settings, daily_dir, "bitcoin", "tether")
    with serve(settings) as server:
        server.app.state.today = lambda: today
        yield server
