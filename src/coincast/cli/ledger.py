"""``coincast ledger show | track`` and ``coincast daily``: the forecast ledger at the terminal.

``show`` lists a coin's recent forecasts beside the prices that then happened and the
model's running score against naive; ``track`` adds a model to the daily job; ``daily``
runs that job once (for cron: ``40 0 * * * coincast daily``).
"""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.table import Table

from coincast.cli.app import app
from coincast.cli.common import cli_settings, console, user_errors
from coincast.ledger.daily import run_daily
from coincast.ledger.records import PRESET_PREFIX, Ledger, LedgerRow
from coincast.ledger.scoring import TrackRecord, track_record

__all__ = ["show_cmd", "track_cmd", "daily_cmd", "ledger_app"]

ledger_app = typer.Typer(help="The forecast ledger: past forecasts and how they did.")
app.add_typer(ledger_app, name="ledger")

UserOpt = Annotated[str, typer.Option(help="Whose ledger.")]


def _money(v: float | None) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:,.2f}"


def _rows_table(coin: str, rows: list[LedgerRow]) -> Table:
    table = Table(title=f"{coin}: recorded forecasts (USD)")
    for col in ("model", "origin", "target", "h", "forecast", "lower", "upper", "naive",
                "actual", "error", "naive error", "inside"):  # fmt: skip
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        model = r.model + (f" v{r.version}" if r.version else "")
        inside = "–" if r.inside is None else ("yes" if r.inside else "no")
        table.add_row(
            model, r.origin_date.isoformat(), r.target_date.isoformat(), str(r.horizon),
            _money(r.point), _money(r.lower), _money(r.upper), _money(r.naive),
            _money(r.actual), _money(r.error), _money(r.naive_error), inside,
        )  # fmt: skip
    return table


def _pct(v: float) -> str:
    return "–" if not math.isfinite(v) else f"{100 * v:.1f} %"


def _score_table(model: str, record: list[TrackRecord]) -> Table:
    table = Table(title=f"{model}: track record beside naive")
    for col in ("window", "scored", "MAE", "naive MAE", "MAE / naive", "coverage",
                "direction", "direction p", "verdict"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("window", "verdict") else "right")
    for t in record:
        ratio = "–" if not math.isfinite(t.mae_ratio) else f"{t.mae_ratio:.3f}"
        p = "–" if not math.isfinite(t.direction_p) else f"{t.direction_p:.3g}"
        table.add_row(
            t.window, str(t.n), _money(t.mae), _money(t.naive_mae), ratio, _pct(t.coverage),
            f"{_pct(t.direction)} of {t.direction_n}", p, t.verdict,
        )  # fmt: skip
    return table


@ledger_app.command("show")
@user_errors
def show_cmd(
    coin: Annotated[str, typer.Argument(help="Coin id, e.g. bitcoin.")],
    model: Annotated[
        str | None, typer.Option(help="Saved model name or preset:NAME (default: all).")
    ] = None,
    user: UserOpt = "local",
    last: Annotated[int, typer.Option(help="Show the newest N forecast days.")] = 30,
) -> None:
    """Recent forecasts of COIN with the realised prices, and each model's running score."""
    ledger = Ledger(cli_settings())
    rows = ledger.rows(user, coin, model)
    if not rows:
        console().print(
            f"No forecasts of {coin!r} recorded for {user!r}"
            + (f" by {model!r}" if model else "")
            + ". Run `coincast forecast COIN`, or `coincast ledger track COIN --model NAME`."
        )
        return
    console().print(_rows_table(coin, rows[-last:]))
    for name in sorted({r.model for r in rows}):
        console().print(_score_table(name, track_record([r for r in rows if r.model == name])))
    console().print("Forecasts are decision support, not financial advice.")


@ledger_app.command("track")
@user_errors
def track_cmd(
    coin: Annotated[str, typer.Argument(help="Coin id, e.g. bitcoin.")],
    model: Annotated[
        str, typer.Option(help="A saved model's name, or preset:NAME (trained each day).")
    ],
    user: UserOpt = "local",
    days: Annotated[int, typer.Option(help="Days ahead each daily forecast covers.")] = 7,
) -> None:
    """Forecast COIN with MODEL in every daily run (`coincast daily`)."""
    settings = cli_settings()
    if model.startswith(PRESET_PREFIX):
        from coincast.model.presets import get_preset

        get_preset(model[len(PRESET_PREFIX) :])  # an unknown preset fails here, not at 00:40
    else:
        from coincast.store.registry import ModelRegistry

        owner, _, name = model.rpartition("/")
        ModelRegistry(settings).info(owner or user, name, "latest")
    added = Ledger(settings).track(user, coin, model, days)
    state = "now tracked" if added else "already tracked"
    console().print(f"{user}: {model} on {coin} is {state}; `coincast daily` forecasts it.")


@app.command("daily")
@user_errors
def daily_cmd() -> None:
    """Refresh the tracked coins, forecast with each tracked model, score what is known.

    Runs once per UTC day per database (a second run the same day does nothing); put it
    in cron shortly after 00:00 UTC, e.g. `40 0 * * * coincast daily`.
    """
    report = run_daily(cli_settings())
    console().print(report.summary())


def record_forecast(
    user: str, coin: str, model: str | None, version: int | None, preset: str, frame: object
) -> None:
    """Keep a forecast the CLI printed (``coincast forecast``) in the user's ledger."""
    import pandas as pd

    from coincast.ledger.records import model_key

    assert isinstance(frame, pd.DataFrame)
    key = model_key(model, preset=preset)
    Ledger(cli_settings()).record(user, coin, key, "" if version is None else str(version),
                                  frame, "cli")  # fmt: skip


def score_after_write(coin: str | None = None) -> int:
    """Score what an import or refresh made known (``coincast data …``)."""
    from coincast.ledger.scoring import score_known

    return score_known(Ledger(cli_settings()), coin)
