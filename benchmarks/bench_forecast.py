"""Accuracy beside naive, interval coverage and forecast latency on bitcoin (prints, no asserts).

Train 2014-01-01..2022-12-31 (its last part is the validation period the early stopping,
shrink weight and conformal intervals use), test 2023-01-01..2024-12-31: every test day
is an origin for 1..7-day forecasts from one fixed model (walk-forward, never refitted on
test data). Prints per preset: training time, 1-day and 7-day RMSE/MAPE/MASE for model,
naive and drift, the Diebold-Mariano verdict, 90 % interval coverage, then the level
target's out-of-range share, the 30-day forecast latency (the fast path beside the
reference per-window path, alternating rounds) and peak RSS.

Environment: BENCH_PRESETS=paper,deep (subset), BENCH_REFIT=K (also a walk-forward with
refits every K days for the default preset), COINCAST_SHARED_DIR (data location).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from coincast.api import Forecaster, backtest
from coincast.forecast.evaluate import Evaluation
from coincast.model.presets import DEFAULT_PRESET, PRESETS
from coincast.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COINCAST_SHARED_DIR", ROOT.parent / "shared"))
CSV = SHARED / "data" / "daily" / "bitcoin.csv"
TRAIN_START, TEST_START, END = "2014-01-01", "2023-01-01", "2025-01-01"


def row(ev: Evaluation, h: int) -> str:
    cells = []
    for method in ("model", "naive", "drift"):
        cells.append(
            f"{method} RMSE {ev.metric(method, h, 'rmse'):8.1f} MAPE "
            f"{ev.metric(method, h, 'mape'):5.2f} % MASE {ev.metric(method, h, 'mase'):5.2f}"
        )
    return f"  {h}-day | " + " | ".join(cells)


def forecast_latency(fc: Forecaster, rounds: int = 5, runs: int = 20) -> str:
    """The 30-day forecast, fast path and reference alternating round by round (the
    machine is shared: each round's median, then the median over rounds)."""
    for _ in range(5):  # burn-in
        fc.forecast(30)
        fc.forecast(30, reference=True)
    fast: list[float] = []
    ref: list[float] = []
    for _ in range(rounds):
        for reference, out in ((False, fast), (True, ref)):
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                fc.forecast(30, reference=reference)
                times.append(time.perf_counter() - t0)
            out.append(1e3 * float(np.median(times)))
    x, y = float(np.median(fast)), float(np.median(ref))
    return (
        f"forecast 30 d: {x:.2f} ms (aim ≤ 5 ms; was 11–13 ms; reference path in this run "
        f"{y:.2f} ms → {y / x:.1f}× faster); medians of {rounds} alternating rounds of {runs}"
    )


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # figures as they come
    if not CSV.exists():
        print(f"skipped: {CSV} not found (set COINCAST_SHARED_DIR)")
        return 0
    threads = Settings().torch_threads  # COINCAST_TORCH_THREADS; torch's default otherwise
    if threads:
        torch.set_num_threads(threads)
    history = pd.read_csv(CSV, index_col="date", parse_dates=True).loc[TRAIN_START:"2024-12-31"]
    print(f"bitcoin {history.index[0].date()}..{history.index[-1].date()}, {len(history)} days; "
          f"test {TEST_START}..2024-12-31; torch threads {torch.get_num_threads()}")  # fmt: skip
    names = os.environ.get("BENCH_PRESETS", ",".join(PRESETS)).split(",")
    fitted: dict[str, Forecaster] = {}
    for name in names:
        fc = Forecaster(name)
        t0 = time.perf_counter()
        fc.fit(history, coin="bitcoin", test_start=TEST_START, end=END)
        secs = time.perf_counter() - t0
        tr = fc.train_result
        ev = fc.evaluation
        assert tr is not None and ev is not None and fc.spec is not None
        fitted[name] = fc
        default = " (default)" if name == DEFAULT_PRESET else ""
        print(f"\n[{name}{default}] {PRESETS[name].description}")
        print(f"  fit {secs:.1f} s (training {tr.elapsed_s:.1f} s, {tr.epochs_run} epochs, best "
              f"{tr.best_epoch}); shrink weight {fc.spec.shrink:.3f}")  # fmt: skip
        print(row(ev, 1))
        print(row(ev, 7))
        for h in (1, 7):
            print(f"  DM {h}-day: {ev.dm[h - 1].message()}")
        cov = " ".join(f"{c:.3f}" for c in ev.coverage)
        print(f"  90 % interval coverage on test, h=1..7: {cov}")

    if "paper" in fitted:
        fc = fitted["paper"]
        assert fc.spec is not None
        pmax = fc.spec.scaler.maxs[fc.spec.scaler.index("price")]
        test = history.loc[TEST_START:, "price"]
        share = float((test > pmax).mean())
        print(f"\nlevel target: training max price {pmax:,.0f} USD; {100 * share:.1f} % of test "
              f"days lie above it (scaled input > 1, outside what the network saw)")  # fmt: skip
        print(forecast_latency(fc))

    refit = os.environ.get("BENCH_REFIT")
    if refit:
        t0 = time.perf_counter()
        ev = backtest(history, DEFAULT_PRESET, test_start=TEST_START, end=END,
                      refit_every=int(refit))  # fmt: skip
        print(f"\n[{DEFAULT_PRESET}, refit every {refit} days] {time.perf_counter() - t0:.0f} s")
        print(row(ev, 1))
        print(row(ev, 7))
        print(f"  DM 1-day: {ev.dm[0].message()}")

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024
    print(f"\npeak RSS {rss * scale / 2**20:.0f} MB")
    print("Forecasts are decision support, not financial advice.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
