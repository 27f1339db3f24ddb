"""The ``coincast`` command line: a thin layer over the library.

Each command group lives in its own module (data, model, scale, server) so that each
stays small; importing them registers their commands on ``coincast.cli.app.app``.
``main`` turns every ``CoincastError`` into a clean message on stderr with exit code 1
(never a traceback).
"""

from __future__ import annotations

import sys

from coincast.cli import data, ledger, model, scale, server  # noqa: F401  (register the commands)
from coincast.cli.app import app, err_console
from coincast.errors import CoincastError

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except CoincastError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(1)
