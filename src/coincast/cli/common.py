"""What every command group shares: library errors become a message and exit code 1.

``coincast.cli.main`` catches them too, but Typer's ``CliRunner`` (the tests, and anyone
embedding the app) calls the commands without ``main``; decorating the command keeps the
behaviour the same on both paths.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from coincast.errors import CoincastError

__all__ = ["user_errors"]

P = ParamSpec("P")
R = TypeVar("R")


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """CoincastError → its message on stderr, exit 1: users never see a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CoincastError as exc:
            # Built per call, so the terminal width (``COLUMNS``) is read when printing.
            Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(1) from None

    return wrapper
