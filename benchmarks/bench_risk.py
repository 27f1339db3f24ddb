"""Point and interval skill on every shared coin and pooled (prints, no asserts).

Each coin's last ``--test-days`` (365) days are its test period: nothing here tunes on
them. Two parts:

1. **Tuning the interval method** on the year *before* the test period, with naive point
   forecasts (the default model is naive or close to it, and an interval method is a
   model of the residuals' scale, not of the point forecast): calibration on the 365 days
   before that year, then the year walked origin by origin. Candidates: split-conformal,
   EWMA- and GARCH-normalised conformal, each with or without adaptive updating (ACI).
   The winner (most coins with 90 % coverage in 0.87–0.93 at h=1 and h=7, then lowest
   pooled Winkler score) is what ``Preset.intervals`` / ``aci_gamma`` default to.
2. **Models on the test period**: for the default and ``paper`` presets, one fit per coin
   (train + validation before the test period, never refitted), scored through
   ``Forecaster``'s own evaluation: MAE ratio to naive, MASE, direction with a binomial
   p, coverage at h=1 and h=7, and the Winkler ratio to the constant band and to
   GARCH(1,1)-t (refitted every 30 days) on the same origins. Then, for the default
   preset, every interval method on the same trained network (``finish`` again), to say
   per coin which wins.

Flags: ``--coins a,b`` (default: every shared coin except the stablecoins, 18),
``--presets`` (default ``shrunk,paper``), ``--no-tune``, ``--no-models``. Run time on 2
busy cores: tuning ~1 min, models ~10 s per fit (≈ 6–8 min for 18 coins × 2 presets).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from coincast.data.clean import clean
from coincast.data.coingecko.stablecoins import STABLECOIN_HINTS
from coincast.forecast import risk_baselines
from coincast.forecast.calibration import calibrate, walk
from coincast.forecast.evaluate import Evaluation
from coincast.forecast.forecaster import Forecaster
from coincast.forecast.intervals import coverage, winkler
from coincast.forecast.pooled import direction_test
from coincast.model.presets import DEFAULT_PRESET, PRESETS
from coincast.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COINCAST_SHARED_DIR", ROOT.parent / "shared"))
DAILY = SHARED / "data" / "daily"
H = 7
CANDIDATES = [
    ("split", 0.0, 0.94, None),
    ("split", 0.005, 0.94, None),
    ("ewma", 0.0, 0.94, None),
    ("ewma", 0.005, 0.94, None),
    ("ewma", 0.005, 0.97, None),
    ("ewma", 0.02, 0.94, None),
    ("ewma", 0.02, 0.97, None),
    ("ewma", 0.0, 0.94, 3.0),
    ("ewma", 0.005, 0.94, 3.0),
    ("ewma", 0.02, 0.94, 3.0),
    ("ewma", 0.005, 0.97, 3.0),
    ("ewma", 0.02, 0.97, 3.0),
    ("ewma", 0.02, 0.94, 2.0),
    ("garch", 0.0, 0.94, None),
    ("garch", 0.005, 0.94, None),
    ("garch", 0.02, 0.94, None),
]


def load(coin: str) -> pd.DataFrame:
    frame = pd.read_csv(DAILY / f"{coin}.csv", index_col="date", parse_dates=True)
    frame, _ = clean(frame, Settings())
    return frame


def actuals(price: np.ndarray, at: np.ndarray, stop: int) -> np.ndarray:
    idx = at[:, None] + np.arange(1, H + 1)[None, :]
    out = np.full(idx.shape, np.nan)
    ok = idx < stop
    out[ok] = price[idx[ok]]
    return out


def tune(histories: dict[str, pd.DataFrame], test_days: int) -> None:
    print("\n## Interval method, tuned on the year before each test period (naive points)")
    results: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    for coin, frame in histories.items():
        price = frame["price"].to_numpy(dtype=np.float64)
        t = len(price)
        tune_start, test_start = t - 2 * test_days, t - test_days
        cal_at = np.arange(tune_start - 366, tune_start - 1)
        at = np.arange(tune_start - 1, test_start - 1)
        if cal_at[0] < 60:
            continue
        base = price[at]
        act = actuals(price, at, test_start)
        paths = np.repeat(base[:, None], H, axis=1)
        cal_paths = np.repeat(price[cal_at][:, None], H, axis=1)
        rows: dict[str, tuple[list[float], list[float]]] = {}
        for method, gamma, lam, clip in CANDIDATES:
            st, cal = calibrate(
                method,
                price,
                cal_at,
                cal_paths,
                actuals(price, cal_at, tune_start),
                known=tune_start,
                gamma=gamma,
                lam=lam,
                clip=clip,
            )
            lo, hi = walk(st, cal, price, at, paths, act, last=test_start - 1)
            label = f"{method} γ={gamma}" + (f" λ={lam}" if method == "ewma" else "")
            rows[label + (f" clip={clip}" if clip else "")] = (
                list(coverage(act, lo, hi)),
                list(winkler(act, lo, hi, base)),
            )
        for name, (lo, hi) in (
            ("band", risk_baselines.band(price, at, H)),
            ("garch-t", risk_baselines.garch_t(price, at, H)),
        ):
            known = np.where(np.isfinite(lo) & np.isfinite(hi), act, np.nan)
            rows[name] = (list(coverage(known, lo, hi)), list(winkler(known, lo, hi, base)))
        results[coin] = rows
    names = list(next(iter(results.values())))
    print(f"{len(results)} coins; pooled = mean over coins of the Winkler score (% of price)")
    print(
        f"{'method':28} {'cov h1 min..max':>16} {'cov h7 min..max':>16} {'in 0.87-0.93':>12} "
        f"{'W h1':>7} {'W h7':>7} {'W mean1-7':>9}"
    )
    best, best_key = None, (-1, 0.0)
    for name in names:
        c1 = [r[name][0][0] for r in results.values()]
        c7 = [r[name][0][6] for r in results.values()]
        w = np.array([r[name][1] for r in results.values()])
        ok = sum(0.87 <= a <= 0.93 and 0.87 <= b <= 0.93 for a, b in zip(c1, c7, strict=True))
        wm = float(np.nanmean(w))
        print(
            f"{name:28} {min(c1):7.3f}..{max(c1):6.3f} {min(c7):7.3f}..{max(c7):6.3f} "
            f"{ok:>6}/{len(c1):<5} {100 * np.nanmean(w[:, 0]):7.2f} "
            f"{100 * np.nanmean(w[:, 6]):7.2f} {100 * wm:9.2f}"
        )
        key = (ok, -wm)
        if name not in ("band", "garch-t") and key > best_key:
            best, best_key = name, key
    print(f"chosen on the tuning year: {best}")


def binom_p(ev: Evaluation, h: int) -> tuple[float, float]:
    d = ev.metric("model", h, "direction")
    n = int(ev.metric("model", h, "n"))
    if not np.isfinite(d) or n == 0:
        return float("nan"), float("nan")
    return d, float(stats.binomtest(round(d * n), n, 0.5).pvalue)


def model_row(coin: str, ev: Evaluation) -> dict[str, float]:
    d1, p1 = binom_p(ev, 1)
    return {
        "mae_ratio": ev.metric("model", 1, "mae") / ev.metric("naive", 1, "mae"),
        "mase": ev.metric("model", 1, "mase"),
        "dir": d1,
        "dir_p": p1,
        "cov1": ev.coverage[0],
        "cov7": ev.coverage[6],
        "w1": ev.winkler["model"][0],
        "w7": ev.winkler["model"][6],
        "band1": ev.winkler["band"][0],
        "band7": ev.winkler["band"][6],
        "garch1": ev.winkler["garch"][0],
        "garch7": ev.winkler["garch"][6],
        "gcov1": ev.baseline_coverage["garch"][0],
        "gcov7": ev.baseline_coverage["garch"][6],
        "n_dir": ev.metric("model", 1, "n") if np.isfinite(d1) else 0.0,
    }


def print_rows(rows: dict[str, dict[str, float]]) -> None:
    print(
        f"{'coin':16} {'MAE/naive':>9} {'MASE':>6} {'dir':>6} {'p':>6} {'cov1':>5} "
        f"{'cov7':>5} {'W1/band':>7} {'W7/band':>7} {'W1/garch':>8} {'W7/garch':>8} "
        f"{'GARCH cov':>11}"
    )
    for coin, r in rows.items():
        print(
            f"{coin:16} {r['mae_ratio']:9.4f} {r['mase']:6.3f} {r['dir']:6.3f} {r['dir_p']:6.3f} "
            f"{r['cov1']:5.3f} {r['cov7']:5.3f} {r['w1'] / r['band1']:7.3f} "
            f"{r['w7'] / r['band7']:7.3f} {r['w1'] / r['garch1']:8.3f} "
            f"{r['w7'] / r['garch7']:8.3f} {r['gcov1']:5.3f},{r['gcov7']:5.3f}"
        )
    v = {k: np.array([r[k] for r in rows.values()]) for k in next(iter(rows.values()))}
    hits = float(np.nansum(v["dir"] * v["n_dir"]))
    n = float(np.sum(v["n_dir"]))
    _, dp, _ = direction_test(round(hits), round(n))
    print(
        f"{'pooled':16} {np.mean(v['mae_ratio']):9.4f} {np.mean(v['mase']):6.3f} "
        f"{hits / n if n else float('nan'):6.3f} {dp:6.3f} {np.mean(v['cov1']):5.3f} "
        f"{np.mean(v['cov7']):5.3f} {np.mean(v['w1']) / np.mean(v['band1']):7.3f} "
        f"{np.mean(v['w7']) / np.mean(v['band7']):7.3f} "
        f"{np.mean(v['w1']) / np.mean(v['garch1']):8.3f} "
        f"{np.mean(v['w7']) / np.mean(v['garch7']):8.3f} "
        f"{np.mean(v['gcov1']):5.3f},{np.mean(v['gcov7']):5.3f}"
    )
    print(
        f"  coverage h1 {v['cov1'].min():.3f}..{v['cov1'].max():.3f}, h7 "
        f"{v['cov7'].min():.3f}..{v['cov7'].max():.3f}; coins in 0.87–0.93 at both: "
        f"{int(np.sum((abs(v['cov1'] - 0.9) <= 0.03) & (abs(v['cov7'] - 0.9) <= 0.03)))}"
        f"/{len(rows)}"
    )


def models(histories: dict[str, pd.DataFrame], presets: list[str], test_days: int) -> None:
    methods = [("split", 0.0), ("ewma", 0.0), ("garch", 0.0), ("ewma", 0.02)]
    alt: dict[str, dict[str, dict[str, float]]] = {f"{m} γ={g}": {} for m, g in methods}
    for name in presets:
        default = " (default)" if name == DEFAULT_PRESET else ""
        p = PRESETS[name]
        print(
            f"\n## {name}{default}: test = last {test_days} days; intervals {p.intervals} "
            f"γ={p.aci_gamma} λ={p.ewma_lambda} clip={p.ewma_clip}; h=1 point metrics"
        )
        rows: dict[str, dict[str, float]] = {}
        t0 = time.perf_counter()
        for coin, frame in histories.items():
            fc = Forecaster(name)
            plan = fc.plan(frame, coin=coin, test_start=frame.index[-test_days])
            result = plan.train()
            fc.finish(plan, result)
            assert fc.evaluation is not None
            rows[coin] = model_row(coin, fc.evaluation)
            print(f"  {coin}: fitted, {time.perf_counter() - t0:.0f} s so far", flush=True)
            if name == DEFAULT_PRESET:
                alt.setdefault("default", {})[coin] = rows[coin]
                for m, g in methods:
                    other = Forecaster(name, intervals=m, aci_gamma=g).finish(plan, result)
                    assert other.evaluation is not None
                    alt[f"{m} γ={g}"][coin] = model_row(coin, other.evaluation)
        print_rows(rows)
        print(f"  ({time.perf_counter() - t0:.0f} s)")
    if alt and next(iter(alt.values())):
        print(f"\n## {DEFAULT_PRESET}: every interval method on the same networks (test period)")
        for label, rows in alt.items():
            if label == "default":
                continue  # printed above
            print(f"\n[{label}]")
            print_rows(rows)
        coins = next(iter(alt.values())).keys()
        print("\nper coin, lowest mean Winkler over h=1 and h=7 (model methods vs GARCH-t):")
        for coin in coins:
            scores = {k: (r[coin]["w1"] + r[coin]["w7"]) / 2 for k, r in alt.items()}
            first = next(iter(alt.values()))[coin]
            scores["GARCH-t baseline"] = (first["garch1"] + first["garch7"]) / 2
            win = min(scores, key=lambda k: scores[k])
            print(f"  {coin:16} {win}")


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    ap = argparse.ArgumentParser()
    ap.add_argument("--coins", default="")
    ap.add_argument("--presets", default=f"{DEFAULT_PRESET},paper")
    ap.add_argument("--test-days", type=int, default=365)
    ap.add_argument("--no-tune", action="store_true")
    ap.add_argument("--no-models", action="store_true")
    args = ap.parse_args()
    if not DAILY.exists():
        print(f"skipped: {DAILY} not found (set COINCAST_SHARED_DIR)")
        return 0
    coins = [c for c in args.coins.split(",") if c] or sorted(
        p.stem for p in DAILY.glob("*.csv") if p.stem not in STABLECOIN_HINTS
    )
    histories = {c: load(c) for c in coins}
    print(f"{len(coins)} coins: {', '.join(coins)}")
    if not args.no_tune:
        tune(histories, args.test_days)
    if not args.no_models:
        models(histories, [p for p in args.presets.split(",") if p], args.test_days)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
