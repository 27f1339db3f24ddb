"""The global cross-coin model beside the per-coin presets on every shared coin (prints).

Protocol as ``bench_risk.py`` (``docs/accuracy.md``): each coin's last ``--test-days``
(365) days are its test period and nothing is tuned on them. The global model is trained
once on all coins' training days and stops early on their validation days (both before
each coin's test period), then every coin's test period is scored walk-forward, never
refitted. Beside it, the default (``shrunk``) and ``paper`` presets, one fit per coin on
the same split. Per coin and pooled: MAE ratio to naive, MASE, direction with a binomial
p, coverage at h=1 and h=7, the Winkler ratio to the constant band and to GARCH(1,1)-t;
pooled Diebold–Mariano against naive; and whether the pooled direction reaches the
literature anchor of 52.9–54.1 % (Jaquart et al., 2022).

Every shared file is loaded in the product's daily convention (CoinGecko's 00:00 UTC
snapshot): the close-convention files through ``read_history_csv(convention="close")``,
as ``coincast data import --close`` stores them (see ``load``).

Flags: ``--coins a,b``, ``--presets`` (default ``shrunk,paper``; empty for the global
model alone), ``--epochs`` (20; the machine is shared, so the global model's training is
capped), ``--batch-size`` (256). Run time on 2 busy cores: ~3–5 min for the global model,
then 2.5–5 min per preset.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from bench_risk import DAILY, model_row, print_rows
from coincast.data.clean import clean
from coincast.data.coingecko.stablecoins import STABLECOIN_HINTS
from coincast.data.csv_import import read_history_csv
from coincast.forecast import walkforward
from coincast.forecast.evaluate import DMResult
from coincast.forecast.forecaster import Forecaster
from coincast.forecast.global_model import GlobalForecaster
from coincast.forecast.pooled import direction_test, pooled_dm
from coincast.settings import Settings

ANCHOR = (0.529, 0.541)  # Jaquart et al. (2022): daily direction, top-100 coins, LSTM/GRU
# shared/data/SOURCES.md "Two daily conventions": only these files are CoinGecko's 00:00 UTC
# snapshot (row D ≈ close of D-1); every other shared file is the 23:59 UTC close of D.
SNAPSHOT_FILES = frozenset({"bitcoin", "ethereum"})


def load(coin: str) -> pd.DataFrame:
    """One shared file in the product's (CoinGecko snapshot) convention, cleaned.

    Close-convention files are read with ``convention="close"`` (dated one day later), as
    ``coincast data import --close`` would store them. Mixing the two conventions in one
    panel puts tomorrow's bitcoin row into other coins' origins (``docs/accuracy.md``).
    For a single coin the shift only relabels dates, so per-coin results do not change.
    """
    convention = "snapshot" if coin in SNAPSHOT_FILES else "close"
    frame, _ = clean(read_history_csv(DAILY / f"{coin}.csv", convention=convention), Settings())
    return frame


def say_skill(label: str, dm: DMResult, direction: tuple[float, float, str]) -> None:
    acc, p, sentence = direction
    print(f"  {label}: pooled Diebold–Mariano vs naive (h=1): {dm.message()}")
    print(f"  {label}: {sentence}")
    if not np.isfinite(acc):
        print(f"  {label}: no direction calls (naive everywhere): the anchor is not reached.")
        return
    reach = "reaches" if acc >= ANCHOR[0] and p < 0.05 else "does not reach"
    print(
        f"  {label}: pooled direction {100 * acc:.1f} % (binomial p = {p:.3g}) {reach} the "
        f"literature anchor {100 * ANCHOR[0]:.1f}–{100 * ANCHOR[1]:.1f} % (Jaquart et al., 2022)"
    )


def run_global(hist: dict[str, pd.DataFrame], test_days: int, epochs: int, batch: int) -> None:
    print(f"\n## global: one LSTM on {len(hist)} coins; epochs ≤ {epochs}, batch {batch}")
    t0 = time.perf_counter()
    g = GlobalForecaster(epochs=epochs, batch_size=batch)
    g.fit(hist, test_start={c: f.index[-test_days] for c, f in hist.items()})
    r = g.train_result
    assert r is not None
    print(
        f"  trained {r.epochs_run} epochs (best {r.best_epoch}, stopped early: "
        f"{r.stopped_early}) and scored in {time.perf_counter() - t0:.0f} s"
    )
    print("  shrink weights: " + ", ".join(f"{c} {w:.2f}" for c, w in g.shrink.items()))
    print_rows({c: model_row(c, e) for c, e in g.evaluations.items()})
    say_skill("global", *g.pooled())


def run_preset(hist: dict[str, pd.DataFrame], name: str, test_days: int) -> None:
    print(f"\n## {name}: one fit per coin, same split")
    rows, e_model, e_naive = {}, [], []
    hits = n = 0
    t0 = time.perf_counter()
    for coin, frame in hist.items():
        fc = Forecaster(name)
        plan = fc.plan(frame, coin=coin, test_start=frame.index[-test_days])
        fc.finish(plan, plan.train())
        assert fc.evaluation is not None and fc.model is not None and fc.spec is not None
        rows[coin] = model_row(coin, fc.evaluation)
        b = plan.prep.bounds
        at = walkforward.origins(b.test_start, b.end)
        pred = walkforward.paths(fc.model, fc.spec, plan.prep, at, 1)[:, 0]
        actual = walkforward.actuals(plan.prep, at, 1, b.end)[:, 0]
        base = plan.prep.price[at]
        e_model.append(pred - actual)
        e_naive.append(base - actual)
        dp = np.sign(pred - base)
        ok = np.isfinite(actual) & (dp != 0)
        hits += int(np.sum(np.sign(actual - base)[ok] == dp[ok]))
        n += int(ok.sum())
    print(f"  {len(hist)} fits in {time.perf_counter() - t0:.0f} s")
    print_rows(rows)
    say_skill(name, pooled_dm(e_model, e_naive), direction_test(hits, n))


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    ap = argparse.ArgumentParser()
    ap.add_argument("--coins", default="")
    ap.add_argument("--presets", default="shrunk,paper")
    ap.add_argument("--test-days", type=int, default=365)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args()
    if not DAILY.exists():
        print(f"skipped: {DAILY} not found (set COINCAST_SHARED_DIR)")
        return 0
    coins = [c for c in args.coins.split(",") if c] or sorted(
        p.stem for p in DAILY.glob("*.csv") if p.stem not in STABLECOIN_HINTS
    )
    hist = {c: load(c) for c in coins}
    print(f"{len(coins)} coins: {', '.join(coins)}; test = each coin's last {args.test_days} days")
    run_global(hist, args.test_days, args.epochs, args.batch_size)
    for name in (p for p in args.presets.split(",") if p):
        run_preset(hist, name, args.test_days)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
