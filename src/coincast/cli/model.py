"""``coincast train | forecast | backtest``: thin commands over ``coincast.api``.

Every table shows the model beside naive, and every printed forecast carries the
not-financial-advice line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from coincast.api import (
    DEFAULT_PRESET,
    Forecaster,
    backtest,
    load_history,
    load_stored,
    save,
    train_further,
)
from coincast.cli.app import app
from coincast.cli.common import cli_settings, console, user_errors
from coincast.cli.evaluation import print_evaluation
from coincast.cli.ledger import record_forecast
from coincast.model.schedule import EpochReport
from coincast.settings import Settings

__all__ = ["backtest_cmd", "forecast_cmd", "train_cmd"]

ADVICE = "Forecasts are decision support, not financial advice."

CsvOpt = Annotated[
    Path | None, typer.Option("--csv", help="Read history from this CSV instead of the store.")
]
PresetOpt = Annotated[
    str, typer.Option("--preset", "-p", help="paper | deep | return | shrunk (the default).")
]
EpochsOpt = Annotated[int | None, typer.Option(help="Override the preset's epochs.")]
WindowOpt = Annotated[int | None, typer.Option(help="Days per input window.")]
UnitsOpt = Annotated[str | None, typer.Option(help="LSTM units per layer, e.g. 64,32.")]
LrOpt = Annotated[float | None, typer.Option("--lr", help="Adam learning rate.")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", help="Mini-batch size.")]
DropOpt = Annotated[float | None, typer.Option(help="Dropout between layers.")]
TestStartOpt = Annotated[
    str | None, typer.Option("--test-start", help="First test day (YYYY-MM-DD).")
]


def _history(coin: str, csv: Path | None, settings: Settings) -> pd.DataFrame:
    if csv is not None:
        from coincast.data.csv_import import read_history_csv

        return read_history_csv(csv)
    return load_history(coin, settings)


def _overrides(
    epochs: int | None,
    window: int | None,
    units: str | None,
    lr: float | None,
    batch_size: int | None,
    dropout: float | None,
) -> dict[str, Any]:
    parsed = None
    if units:
        try:
            parsed = tuple(int(u) for u in units.split(","))
        except ValueError:
            raise typer.BadParameter(
                "--units takes integers separated by commas, e.g. 64,32"
            ) from None
    return {
        k: v
        for k, v in {
            "epochs": epochs,
            "window": window,
            "units": parsed,
            "lr": lr,
            "batch_size": batch_size,
            "dropout": dropout,
        }.items()
        if v is not None
    }


@contextmanager
def _progress(
    coin: str, label: str
) -> Iterator[tuple[Callable[[int], None], Callable[[EpochReport], None]]]:
    """A progress bar over epochs: (on_start(epochs), on_epoch(report)) for the fit."""
    with Progress(
        TextColumn(f"[bold]{coin}[/] {label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[losses]}"),
        TimeRemainingColumn(),
        console=console(),
    ) as bar:
        task = bar.add_task("train", total=None, losses="")

        def on_start(epochs: int) -> None:
            bar.update(task, total=epochs)

        def on_epoch(r: EpochReport) -> None:
            val = f" val {r.val_loss:.5f}" if r.val_loss is not None else ""
            bar.update(task, completed=r.epoch, losses=f"loss {r.loss:.5f}{val}")

        yield on_start, on_epoch
        bar.update(task, completed=bar.tasks[0].total)


def _fit(coin: str, history: pd.DataFrame, fc: Forecaster, test_start: str | None) -> Forecaster:
    with _progress(coin, fc.preset.name) as (on_start, on_epoch):
        on_start(fc.preset.epochs)
        fc.fit(history, on_epoch=on_epoch, coin=coin, test_start=test_start)
    return fc


@app.command("train")
@user_errors
def train_cmd(
    coin: Annotated[
        str | None, typer.Argument(help="Coin id with stored history; omit with --top.")
    ] = None,
    preset: PresetOpt = DEFAULT_PRESET,
    epochs: EpochsOpt = None,
    window: WindowOpt = None,
    units: UnitsOpt = None,
    lr: LrOpt = None,
    batch_size: BatchOpt = None,
    dropout: DropOpt = None,
    csv: CsvOpt = None,
    test_start: TestStartOpt = None,
    save_as: Annotated[
        str | None, typer.Option("--save", help="Save to the model registry under this name.")
    ] = None,
    user: Annotated[str, typer.Option(help="Registry user for --save.")] = "local",
    # --top N trains the top N stored coins as one run (coincast.cli.scale).
    top: Annotated[
        int | None, typer.Option("--top", help="Train one model per top-N stored coin.")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="With --top: batched | sequential | ray.")
    ] = "batched",
    from_model: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Train this saved model further on COIN's history; saved as its next "
            "version. Only --epochs, --lr and --batch-size may change.",
        ),
    ] = None,
    from_version: Annotated[
        str, typer.Option("--from-version", help="Version of --from to start from.")
    ] = "latest",
) -> None:
    """Train a model on COIN's history (or on each of the --top N coins), compared with naive."""
    if from_model is not None:
        if top is not None or (save_as is not None and save_as != from_model):
            raise typer.BadParameter(
                "--from saves the result as the next version of that model: leave out --top "
                "and --save."
            )
        if coin is None:
            raise typer.BadParameter("give the COIN whose history trains the model further.")
        _train_further(
            coin,
            csv,
            test_start,
            user,
            from_model,
            from_version,
            _overrides(epochs, window, units, lr, batch_size, dropout),
        )
        return
    if top is not None:
        from coincast.cli.scale import train_top

        if coin is not None or csv is not None:
            raise typer.BadParameter("give either COIN (and --csv) or --top N, not both.")
        train_top(
            top,
            preset=preset,
            engine=engine,
            test_start=test_start,
            user=user,
            name=save_as,
            overrides=_overrides(epochs, window, units, lr, batch_size, dropout),
        )
        return
    if coin is None:
        raise typer.BadParameter("give a COIN to train, or --top N for the top N stored coins.")
    settings = cli_settings()
    history = _history(coin, csv, settings)
    overrides = _overrides(epochs, window, units, lr, batch_size, dropout)
    fc = _fit(coin, history, Forecaster(preset, **overrides), test_start)
    print_evaluation(fc.evaluation, coin)
    if save_as:
        from coincast.store.registry import ModelRegistry

        info = save(fc, ModelRegistry(settings), user, save_as)
        console().print(f"Saved {user}/{info.name} version {info.version}.")


def _train_further(
    coin: str,
    csv: Path | None,
    test_start: str | None,
    user: str,
    name: str,
    version: str,
    overrides: dict[str, Any],
) -> None:
    """Continue a stored model's training and save it as the next version of its name,
    with the version it started from recorded as the parent (as the server does)."""
    from coincast.store.registry import ModelRegistry

    settings = cli_settings()
    registry = ModelRegistry(settings)
    history = _history(coin, csv, settings)
    with _progress(coin, "further") as (on_start, on_epoch):
        fc, parent = train_further(
            history,
            user,
            name,
            version,
            registry=registry,
            coin=coin,
            test_start=test_start,
            on_start=on_start,
            on_epoch=on_epoch,
            **overrides,
        )
    print_evaluation(fc.evaluation, coin)
    info = save(fc, registry, user, name, parent_version=parent)
    console().print(
        f"Saved {user}/{info.name} version {info.version} (trained further from version {parent})."
    )


@app.command("forecast")
@user_errors
def forecast_cmd(
    coin: Annotated[str, typer.Argument(help="Coin id (CoinGecko id, e.g. bitcoin).")],
    days: Annotated[int, typer.Option(help="Days ahead (1-90).")] = 7,
    preset: PresetOpt = DEFAULT_PRESET,
    model: Annotated[
        str | None, typer.Option(help="Use this saved model instead of training now.")
    ] = None,
    version: Annotated[str, typer.Option(help="Model version or 'latest'.")] = "latest",
    user: Annotated[str, typer.Option(help="Registry user for --model.")] = "local",
    csv: CsvOpt = None,
    epochs: EpochsOpt = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG chart here.")] = None,
) -> None:
    """Forecast COIN's price DAYS ahead with intervals and the naive line."""
    from coincast.errors import NoDataError

    settings = cli_settings()
    history: pd.DataFrame | None
    number: int | None = None
    if model:
        fc, number = load_stored(user, model, version, settings)
        try:
            history = _history(coin, csv, settings)
        except NoDataError:
            history = None  # forecast from the days stored with the model
    else:
        history = _history(coin, csv, settings)
        overrides = _overrides(epochs, None, None, None, None, None)
        fc = _fit(coin, history, Forecaster(preset, **overrides), None)
    out = fc.forecast(days, history=history)
    record_forecast(user, coin, model, number, fc.preset.name, out)
    table = Table(title=f"{coin}: {days}-day forecast (USD)")
    for col in ("date", "forecast", "lower", "upper", "naive"):
        table.add_column(col, justify="right")
    for rec in out.to_dict(orient="records"):
        table.add_row(
            pd.Timestamp(rec["date"]).date().isoformat(),
            *(f"{rec[c]:,.2f}" for c in ("forecast", "lower", "upper", "naive")),
        )
    console().print(table)
    _stale_notice(coin, out)
    if fc.evaluation is not None:
        console().print(fc.evaluation.verdict)
        console().print(fc.evaluation.risk_verdict)
    elif isinstance(risk := (fc.metadata().get("metrics") or {}).get("risk_verdict"), str):
        console().print(risk)
    if plot is not None:
        from coincast.forecast.plots import plot_forecast

        frame = history if history is not None else pd.DataFrame({"price": []})
        plot_forecast(frame, out, plot, title=f"{coin}: {days}-day forecast")
        console().print(f"Chart written to {plot}")
    console().print(ADVICE)


def _stale_notice(coin: str, out: pd.DataFrame) -> None:
    """The server's stale-data sentence, with the command that fetches the missing days."""
    from coincast.data.freshness import freshness

    fresh = freshness((pd.Timestamp(out["date"].iloc[0]) - pd.Timedelta(days=1)).date())
    if fresh.notice:
        console().print(
            f"[yellow]{fresh.notice}[/] Run `coincast data fetch {coin}` to add the missing "
            "days (or import a newer CSV)."
        )


@app.command("backtest")
@user_errors
def backtest_cmd(
    coin: Annotated[str, typer.Argument(help="Coin id (CoinGecko id, e.g. bitcoin).")],
    preset: PresetOpt = DEFAULT_PRESET,
    horizon: Annotated[int, typer.Option(help="Days ahead scored from each origin.")] = 7,
    refit_every: Annotated[
        int | None, typer.Option(help="Refit every K days (default: one fixed model).")
    ] = None,
    test_start: TestStartOpt = None,
    epochs: EpochsOpt = None,
    window: WindowOpt = None,
    units: UnitsOpt = None,
    csv: CsvOpt = None,
    plot: Annotated[Path | None, typer.Option(help="Write error-by-horizon PNG here.")] = None,
) -> None:
    """Walk-forward backtest of a preset against naive and drift, with a Diebold–Mariano test."""
    settings = cli_settings()
    history = _history(coin, csv, settings)
    with console().status(f"Backtesting {preset} on {coin}…"):
        ev = backtest(
            history,
            preset,
            horizon=horizon,
            test_start=test_start,
            refit_every=refit_every,
            coin=coin,
            **_overrides(epochs, window, units, None, None, None),
        )
    print_evaluation(ev, coin)
    if plot is not None:
        from coincast.forecast.plots import plot_errors_by_horizon

        plot_errors_by_horizon(ev, plot, title=f"{coin} {preset}: MAPE by horizon")
        console().print(f"Chart written to {plot}")
    console().print(ADVICE)
