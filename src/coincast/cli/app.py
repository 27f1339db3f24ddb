"""The Typer application every command group registers on, and the stderr console.

In a module of its own so that command modules import it without importing the
package that imports them.
"""

from __future__ import annotations

import typer
from rich.console import Console

__all__ = ["app", "err_console"]

app = typer.Typer(
    name="coincast",
    help="Forecast cryptocurrency prices with LSTMs. Forecasts are not financial advice.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)
