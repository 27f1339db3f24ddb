"""``coincast data …``: fetch, refresh, import, show and clean market data."""

from __future__ import annotations

import typer

from coincast.cli import app

data_app = typer.Typer(
    help="Market data: fetch from CoinGecko, import CSV, clean.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
