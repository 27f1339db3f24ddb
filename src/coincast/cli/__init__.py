"""The ``coincast`` command line: a thin layer over the library.

Each command group lives in its own module (data, models, server) so that each stays
small; this module assembles them and turns every ``CoincastError`` into a clean message
on stderr with exit code 1 (never a traceback).
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from coincast.errors import CoincastError

__all__ = ["app", "main"]

app = typer.Typer(
    name="coincast",
    help="Forecast cryptocurrency prices with LSTMs. Forecasts are not financial advice.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def _register() -> None:
    """Import the command groups; each registers itself on ``app``."""
    from coincast.cli import data as _data  # noqa: F401
    from coincast.cli import model as _model  # noqa: F401
    from coincast.cli import scale as _scale  # noqa: F401  (issue 7: tune; train --top)
    from coincast.cli import server as _server  # noqa: F401


_register()


def main() -> None:
    try:
        app()
    except CoincastError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(1)
