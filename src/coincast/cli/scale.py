"""``coincast train --top N`` and ``coincast tune COIN``: many models, and tuning, at scale.

``train --top N`` is the same command as ``coincast train COIN`` (``cli/model.py``
hands over when ``--top`` is given), so users learn one verb: one model per coin of the
stored top list, each saved as a version in the model store as soon as it is done, one
overall progress bar, then a summary beside naive. ``tune`` runs Ray Tune with Optuna
(``coincast.scale.tune``). Both take ``COINCAST_RAY_ADDRESS`` to use a Ray cluster.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, cast

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from coincast.cli.app import app
from coincast.cli.common import cli_settings, console
from coincast.errors import ParameterError
from coincast.model.presets import get_preset
from coincast.scale.engines import ENGINES, Engine, fit_many
from coincast.scale.results import CoinResult
from coincast.settings import Settings

__all__ = ["summary_table", "train_top", "tune_cmd"]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def summary_table(results: list[CoinResult], title: str) -> Table:
    """coin, validation and test MAPE beside naive (walk-forward, mean of 1..7 days), time."""
    table = Table(title=title)
    for col in (
        "coin",
        "val MAPE %",
        "naive",
        "test MAPE %",
        "naive",
        "vs naive",
        "epochs",
        "time s",
        "version / problem",
    ):
        table.add_column(col, justify="left" if col in ("coin", "version / problem") else "right")
    for r in results:
        verdict = "–"
        if r.test_mape is not None and r.test_naive_mape is not None:
            better = r.test_mape < r.test_naive_mape
            verdict = "[green]better[/]" if better else "[red]worse[/]"
        last = f"v{r.version}" if r.version is not None else escape(r.message or "")
        table.add_row(
            r.coin,
            _pct(r.val_mape),
            _pct(r.val_naive_mape),
            _pct(r.test_mape),
            _pct(r.test_naive_mape),
            verdict,
            str(r.epochs_run) if r.ok else "–",
            f"{r.elapsed_s:.1f}" if r.ok else "–",
            last,
        )
    return table


def train_top(
    top: int,
    *,
    preset: str,
    engine: str,
    overrides: dict[str, Any],
    test_start: str | None,
    user: str,
    name: str | None = None,
    include_stable: bool = False,
    settings: Settings | None = None,
) -> list[CoinResult]:
    """Train and save one model per top coin; print the summary. Returns every row."""
    from coincast.data.market.top import collect_histories
    from coincast.store.registry import ModelRegistry

    if top < 1:
        raise ParameterError("--top must be at least 1.")
    if engine not in ENGINES:
        raise ParameterError(f"unknown --engine {engine!r}; choose {', '.join(ENGINES)}.")
    settings = settings or cli_settings()
    if engine == "batched" and get_preset(preset, **overrides).dropout > 0:
        console().print(
            f"note: {preset} uses dropout, which cannot be batched exactly; "
            "training the coins one after another."
        )
    histories, passed_over = collect_histories(settings, top, include_stable=include_stable)
    skipped = [CoinResult(s.coin, False, s.reason) for s in passed_over]
    registry = ModelRegistry(settings)
    done: list[CoinResult] = []

    def save(res: CoinResult) -> None:
        """Each model lands in the store as soon as it is done."""
        if res.ok and res.model_json is not None and res.weights is not None:
            model_name = f"{name}-{res.coin}" if name else f"{res.coin}-{preset}"
            info = registry.save(user, model_name, res.model_json, res.weights)
            res = dataclasses.replace(res, version=info.version, model_json=None, weights=None)
        done.append(res)

    columns = (
        TextColumn(f"[bold]{preset}[/] × {len(histories)} coins ({engine})"),
        BarColumn(),
        TextColumn("{task.completed:.1f}/{task.total}"),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console()) as bar:
        task = bar.add_task("train", total=len(histories), note="")

        def progress(completed: float, note: str) -> None:
            bar.update(task, completed=completed, note=escape(note))

        split = {"test_start": test_start} if test_start else {}
        fit_many(
            histories,
            preset,
            overrides,
            engine=cast(Engine, engine),
            split=split,
            on_result=save,
            on_progress=progress,
            ray_address=settings.ray_address,
        )
        bar.update(task, completed=len(histories), note="done")
    by_coin = {r.coin: r for r in done}
    rows = [by_coin[c] for c in histories if c in by_coin] + skipped
    console().print(summary_table(rows, f"{preset}: {len(histories)} coins, engine {engine}"))
    ok = [r for r in rows if r.ok]
    wins = sum(
        1
        for r in ok
        if r.test_mape is not None
        and r.test_naive_mape is not None
        and r.test_mape < r.test_naive_mape
    )
    console().print(
        f"{len(ok)} model(s) saved for user {user!r}; {wins} beat naive on their test period "
        f"(MAPE, mean of 1..7 days); {len(rows) - len(ok)} coin(s) skipped or failed."
    )
    console().print("Forecasts are decision support, not financial advice.")
    return rows


@app.command("tune")
def tune_cmd(
    coin: Annotated[str, typer.Argument(help="Coin id with stored history, e.g. bitcoin.")],
    trials: Annotated[int, typer.Option(help="How many configurations to try.")] = 50,
    preset: Annotated[
        str, typer.Option("--preset", "-p", help="Preset the search starts from.")
    ] = "paper",
    epochs: Annotated[
        int | None, typer.Option(help="Most epochs per trial (ASHA stops weak ones early).")
    ] = None,
    test_start: Annotated[
        str | None, typer.Option("--test-start", help="First test day (YYYY-MM-DD).")
    ] = None,
    user: Annotated[str, typer.Option(help="Registry user the best model is saved for.")] = (
        "local"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the Optuna sampler.")] = 42,
) -> None:
    """Tune window, units, layers, dropout, lr and batch on COIN's validation period.

    Ray Tune runs the trials (ASHA stops weak ones early) with an Optuna search; the
    objective is walk-forward validation MAPE. The best configuration is then scored
    once on the test period beside naive and the preset, saved with its trials table,
    and its model stored as a version.
    """
    from coincast.api import load_history
    from coincast.scale.tune import report_lines, tune_coin

    settings = cli_settings()
    history = load_history(coin, settings)
    with console().status(f"Tuning {preset} on {coin}: {trials} trials on Ray…"):
        outcome = tune_coin(
            coin,
            history,
            settings=settings,
            base_preset=preset,
            trials=trials,
            max_epochs=epochs,
            test_start=test_start,
            seed=seed,
            user=user,
        )
    for line in report_lines(outcome):
        console().print(escape(line))
    console().print("Forecasts are decision support, not financial advice.")
