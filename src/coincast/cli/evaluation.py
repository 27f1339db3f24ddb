"""How a test-period evaluation is printed: the metrics beside naive and drift, the interval
coverage and scores beside the two risk baselines, and the verdicts in plain words.

``train``, ``train further`` and ``backtest`` all end with the same report.
"""

from __future__ import annotations

import pandas as pd
from rich.table import Table

from coincast.cli.common import console
from coincast.forecast.evaluate import Evaluation

__all__ = ["print_evaluation"]


def _results_table(ev: Evaluation, title: str, horizons: tuple[int, ...] = (1, 7)) -> Table:
    table = Table(title=title)
    for col in ("horizon", "method", "RMSE", "MAE", "MAPE %", "sMAPE %", "MASE", "direction"):
        table.add_column(col, justify="right" if col != "method" else "left")
    shown = [h for h in horizons if h in set(ev.table["horizon"])]
    for rec in ev.table[ev.table["horizon"].isin(shown)].to_dict(orient="records"):
        d = rec["direction"]
        table.add_row(
            f"{rec['horizon']}d",
            str(rec["method"]),
            f"{rec['rmse']:,.2f}",
            f"{rec['mae']:,.2f}",
            f"{rec['mape']:.3f}",
            f"{rec['smape']:.3f}",
            f"{rec['mase']:.3f}",
            "–" if pd.isna(d) else f"{100 * d:.1f} %",
        )
    return table


def _interval_scores(ev: Evaluation) -> str:
    """Winkler scores at 1 and 7 days as % of the price, model beside the two baselines."""
    names = {"model": f"model ({ev.interval_method})", "garch": "GARCH(1,1)-t", "band": "band"}
    cells = [
        f"{label} " + " / ".join(f"{100 * w:.1f}" for w in ev.winkler[key][:7:6])
        for key, label in names.items()
        if key in ev.winkler
    ]
    return "Interval score (Winkler, % of price, 1-day / 7-day; lower is better): " + "; ".join(
        cells
    )


def print_evaluation(ev: Evaluation | None, coin: str) -> None:
    """The test-period table, interval coverage and scores, and both verdicts in words."""
    if ev is None:
        console().print("No test period: nothing to compare with naive.")
        return
    console().print(
        _results_table(ev, f"{coin}: test {ev.start} .. {ev.end}, {ev.n_origins} origins")
    )
    cov = ", ".join(f"{100 * c:.0f}%" for c in ev.coverage[:7])
    console().print(f"{100 * (1 - ev.alpha):.0f} % interval coverage by horizon: {cov}")
    console().print(_interval_scores(ev))
    console().print(ev.risk_verdict)
    colour = {"model": "green", "naive": "red", "neither": "yellow"}[ev.dm[0].better]
    console().print(f"[{colour}]{ev.verdict}[/]")
