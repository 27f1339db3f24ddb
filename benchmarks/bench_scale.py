"""Many coins at once and a short tuning run; prints figures, asserts nothing.

1. Wall time to fit one ``paper`` forecaster per coin for COINS coins (default 100: the
   shared coins without the stablecoins, repeated), end to end as ``coincast train
   --top`` does it (prepare, train, calibrate, evaluate, export), with each engine:
   ``batched`` (all models as one computation), ``sequential`` and ``ray`` (local
   runtime, one task per core). Sequential and Ray are timed on MEASURE coins and
   extrapolated linearly to COINS (each coin costs the same there); batched runs all.
2. A short Ray Tune + Optuna + ASHA search on bitcoin: the best configuration against
   the paper preset on validation, then once on test, each beside naive.

Knobs (environment): BENCH_SCALE_COINS=100, BENCH_SCALE_MEASURE=20, BENCH_SCALE_DAYS=730
(the latest days of each coin), BENCH_SCALE_EPOCHS=50, BENCH_TUNE_TRIALS=16,
BENCH_TUNE_EPOCHS=30, BENCH_SCALE_SEQ_THREADS=1, BENCH_SCALE_SKIP=ray,tune (skip parts).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COINCAST_SHARED_DIR", ROOT.parent / "shared")).resolve()
DAILY = SHARED / "data" / "daily"


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def load(days: int) -> dict[str, pd.DataFrame]:
    from coincast.data.clean import clean
    from coincast.data.coingecko.stablecoins import looks_pegged
    from coincast.data.csv_import import read_history_csv
    from coincast.settings import Settings

    settings = Settings(_env_file=None, data_dir=Path(tempfile.mkdtemp()))  # type: ignore[call-arg]
    out = {}
    for path in sorted(DAILY.glob("*.csv")):
        frame, _report = clean(read_history_csv(path), settings)
        if not looks_pegged(frame["price"]):
            out[path.stem] = frame.iloc[-days:]
    return out


def repeat(base: dict[str, pd.DataFrame], n: int) -> dict[str, pd.DataFrame]:
    names = list(base)
    return {f"{names[i % len(names)]}-{i // len(names)}": base[names[i % len(names)]]
            for i in range(n)}  # fmt: skip


def summary(results: list) -> str:  # type: ignore[type-arg]
    ok = [r for r in results if r.ok]
    wins = sum(1 for r in ok if r.test_mape is not None and r.test_mape < r.test_naive_mape)
    return f"{len(ok)}/{len(results)} fitted, {wins} beat naive on test"


def bench_training(skip: set[str]) -> None:
    from coincast.scale.engines import fit_many

    coins, measure = env_int("BENCH_SCALE_COINS", 100), env_int("BENCH_SCALE_MEASURE", 20)
    days, epochs = env_int("BENCH_SCALE_DAYS", 730), env_int("BENCH_SCALE_EPOCHS", 50)
    base = load(days)
    everything = repeat(base, coins)
    part = repeat(base, min(measure, coins))
    windows = sum(len(h) for h in everything.values()) * 0.8  # train share, roughly
    print(f"{len(base)} distinct coins (stablecoins left out) repeated to {coins}; last "
          f"{days} days each; paper preset, {epochs} epochs; torch threads "
          f"{torch.get_num_threads()}, cores {os.cpu_count()}")  # fmt: skip
    print(
        f"≈ {windows * epochs * 1.9e6 / 1e12:.2f} TFLOP of training for {coins} coins "
        "(1.9 MFLOP per window per epoch)"
    )
    overrides = {"epochs": epochs}

    t0 = time.perf_counter()
    res = fit_many(everything, "paper", overrides, engine="batched")
    batched = time.perf_counter() - t0
    print(f"batched    {coins:4d} coins: {batched:8.1f} s measured  ({summary(res)})")

    # One model's ops are tiny: extra intra-op threads only add synchronisation (and on a
    # busy machine stall on descheduled threads), so the loop runs on one thread.
    threads = torch.get_num_threads()
    torch.set_num_threads(env_int("BENCH_SCALE_SEQ_THREADS", 1))
    t0 = time.perf_counter()
    res = fit_many(part, "paper", overrides, engine="sequential")
    seq = (time.perf_counter() - t0) * coins / len(part)
    torch.set_num_threads(threads)
    scale = f"measured on {len(part)}, ×{coins / len(part):.1f}"
    print(f"sequential {coins:4d} coins: {seq:8.1f} s ({scale}; "
          f"{env_int('BENCH_SCALE_SEQ_THREADS', 1)} torch thread)  ({summary(res)})")  # fmt: skip

    if "ray" not in skip:
        from coincast.scale.ray_tasks import ray_runtime

        t0 = time.perf_counter()
        with ray_runtime():
            started = time.perf_counter() - t0
            t1 = time.perf_counter()
            res = fit_many(part, "paper", overrides, engine="ray")
            ray_s = (time.perf_counter() - t1) * coins / len(part)
        print(f"ray local  {coins:4d} coins: {ray_s:8.1f} s ({scale}; + {started:.1f} s "
              f"runtime start)  ({summary(res)})")  # fmt: skip
        print(f"ratios: sequential / batched = {seq / batched:.2f}, ray / batched = "
              f"{ray_s / batched:.2f}")  # fmt: skip
    else:
        print(f"ratio: sequential / batched = {seq / batched:.2f}")


def bench_tuning() -> None:
    from coincast.scale.tune import report_lines, tune_coin
    from coincast.settings import Settings

    trials, epochs = env_int("BENCH_TUNE_TRIALS", 16), env_int("BENCH_TUNE_EPOCHS", 30)
    history = load(env_int("BENCH_SCALE_DAYS", 730))["bitcoin"]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp))  # type: ignore[call-arg]
        out = tune_coin("bitcoin", history, settings=settings, trials=trials,
                        max_epochs=epochs, user=None)  # fmt: skip
        print(f"\ntuning: {trials} trials, at most {epochs} epochs each, bitcoin last "
              f"{len(history)} days")  # fmt: skip
        for line in report_lines(out):
            if not line.startswith("best config and trials table"):
                print(line)
        stopped = sum(1 for t in out.trials if t["epochs_run"] and t["epochs_run"] < epochs)
        print(f"ASHA stopped {stopped} of {len(out.trials)} trials early")


def main() -> int:
    if not DAILY.is_dir():
        print(f"shared data not found at {DAILY}; set COINCAST_SHARED_DIR")
        return 0
    skip = {s.strip() for s in os.environ.get("BENCH_SCALE_SKIP", "").split(",") if s.strip()}
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    bench_training(skip)
    if "tune" not in skip:
        bench_tuning()
    return 0


if __name__ == "__main__":
    sys.exit(main())
