"""What every command group shares: one ``Settings`` per invocation, and library errors
as a message and exit code 1.

``coincast.cli.main`` catches errors too, but Typer's ``CliRunner`` (the tests, and anyone
embedding the app) calls the commands without ``main``; decorating the command keeps the
behaviour the same on both paths.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from coincast.errors import CoincastError, ConfigError
from coincast.settings import Settings

__all__ = ["cli_settings", "console", "user_errors"]

_SETTINGS_KEY = "coincast.settings"

P = ParamSpec("P")
R = TypeVar("R")


def console(stderr: bool = False) -> Console:
    """Built per call, so the terminal width (``COLUMNS``) is read when printing, not when the
    module was first imported (a module-level console keeps the width of whoever imported it)."""
    return Console(stderr=stderr)


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """CoincastError → its message on stderr, exit 1: users never see a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CoincastError as exc:
            console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(1) from None

    return wrapper


def cli_settings() -> Settings:
    """This invocation's ``Settings``, read from the environment on first use.

    Kept in the click context's ``meta`` (shared by the whole command tree and new for
    every invocation), so a command and the helpers it calls see one Settings, and a
    test's ``CliRunner`` with other environment variables gets fresh ones. Built lazily,
    not in an app callback, so ``--help`` works whatever the environment holds.
    """
    ctx = click.get_current_context(silent=True)
    if ctx is None:  # called outside a command (a library caller of a CLI helper)
        return _build_settings()
    if _SETTINGS_KEY not in ctx.meta:
        ctx.meta[_SETTINGS_KEY] = _build_settings()
    settings: Settings = ctx.meta[_SETTINGS_KEY]
    return settings


def _build_settings() -> Settings:
    """Settings with COINCAST_TORCH_THREADS applied: on a shared 2-core machine one
    thread per process trains many times faster than two fighting over busy cores."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"COINCAST_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"Invalid settings: {problems}. Fix the environment or .env.") from None
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)
    return settings
