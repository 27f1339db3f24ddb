"""PNG charts a person would rather look at than read (matplotlib, headless Agg backend).

Figures are created with the object API (``Figure`` + Agg canvas), never ``pyplot``, so
plotting from a server thread or a test worker touches no global GUI state.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from coincast.forecast.evaluate import Evaluation

__all__ = ["plot_errors_by_horizon", "plot_forecast"]

ADVICE = "Forecasts are decision support, not financial advice."


def plot_forecast(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    path: str | Path,
    *,
    title: str = "",
    lookback_days: int = 120,
) -> Path:
    """Recent prices, the forecast with its interval band, and the naive line → PNG."""
    fig = Figure(figsize=(9, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    recent = history["price"].iloc[-lookback_days:]
    ax.plot(recent.index, recent.to_numpy(), color="0.2", lw=1.2, label="history")
    dates = pd.DatetimeIndex(forecast["date"])
    level = int(round(100 * float(getattr(forecast, "attrs", {}).get("level", 0.9))))
    ax.fill_between(
        dates,
        forecast["lower"],
        forecast["upper"],
        color="tab:blue",
        alpha=0.2,
        label=f"{level} % interval",
    )
    ax.plot(
        dates, forecast["forecast"], color="tab:blue", lw=1.8, marker="o", ms=3, label="forecast"
    )
    ax.plot(dates, forecast["naive"], color="tab:orange", ls="--", lw=1.2, label="naive")
    ax.set_ylabel("USD")
    ax.set_title(title or "Price forecast")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.text(0.99, 0.01, ADVICE, ha="right", va="bottom", fontsize=7, color="0.4")
    out = Path(path)
    fig.savefig(out, format="png")
    return out


def plot_errors_by_horizon(
    evaluation: Evaluation, path: str | Path, *, metric: str = "mape", title: str = ""
) -> Path:
    """One line per method (model, naive, drift): error against forecast horizon → PNG."""
    fig = Figure(figsize=(7, 4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    table = evaluation.table
    for method, rows in table.groupby("method", sort=False):
        ax.plot(rows["horizon"], rows[metric], marker="o", label=str(method))
    ax.set_xlabel("horizon (days ahead)")
    ax.set_ylabel(metric.upper() + (" (%)" if metric in ("mape", "smape") else ""))
    ax.set_title(title or f"{metric.upper()} by horizon, {evaluation.start} to {evaluation.end}")
    ax.grid(alpha=0.3)
    ax.legend()
    out = Path(path)
    fig.savefig(out, format="png")
    return out
