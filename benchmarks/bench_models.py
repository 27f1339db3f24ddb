"""Which models earn their place: every shared coin's last 365 days, walk-forward.

Models (each fitted once on the data before the test period, never refitted on it; the
statistical ones refit their parameters every 30 days on days known at the origin):
the default preset, ``paper``, a seed ensemble of the default (``BENCH_SEEDS`` seeds,
default 2), and, on the ``--extra-coins`` (default bitcoin; ``--extra-coins all`` for
every coin): the default + AutoETS ensemble, the default with attention pooling, AutoETS
and AutoARIMA alone. Ensembles and statistical models get their own intervals
(``coincast.forecast.ensemble``), calibrated on validation like every preset's.

Printed per coin and pooled (``bench_risk.print_rows``): 1-day MAE ratio to naive, MASE,
direction with binomial p, coverage at h=1 and h=7, Winkler ratio to the constant band
and to GARCH(1,1)-t; then the pooled Diebold–Mariano test against naive at h=1 and h=7.
Run time on 2 idle cores: ~30 s per coin for the default three (≈ 9 min for 18 coins),
~2.5 min more per extra coin (the statistical walks dominate); 2–4× that on busy cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from bench_risk import DAILY, load, model_row, print_rows
from coincast.data.coingecko.stablecoins import STABLECOIN_HINTS
from coincast.forecast import walkforward
from coincast.forecast.ensemble import Ensemble
from coincast.forecast.forecaster import Forecaster
from coincast.forecast.plan import FitPlan
from coincast.forecast.pooled import pooled_dm
from coincast.model.presets import DEFAULT_PRESET

EXTRA = "bitcoin"
Errors = dict[str, list[tuple[np.ndarray, np.ndarray]]]


def fitted(
    preset: str, frame, coin: str, test_days: int, **kw: object
) -> tuple[Forecaster, FitPlan]:  # type: ignore[no-untyped-def]
    fc = Forecaster(preset, **kw)
    plan = fc.plan(frame, coin=coin, test_start=frame.index[-test_days])
    return fc.finish(plan, plan.train()), plan


def errors(plan: FitPlan, paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per horizon (1, 7): model and naive errors on the test origins."""
    b = plan.prep.bounds
    at = walkforward.origins(b.test_start, b.end)
    act = walkforward.actuals(plan.prep, at, paths.shape[1], b.end)
    base = plan.prep.price[at][:, None]
    return act - paths, act - base


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    ap = argparse.ArgumentParser()
    ap.add_argument("--coins", default="")
    ap.add_argument("--extra-coins", default=EXTRA)
    ap.add_argument("--test-days", type=int, default=365)
    args = ap.parse_args()
    if not DAILY.exists():
        print(f"skipped: {DAILY} not found (set COINCAST_SHARED_DIR)")
        return 0
    k = int(os.environ.get("BENCH_SEEDS", "2"))
    coins = [c for c in args.coins.split(",") if c] or sorted(
        p.stem for p in DAILY.glob("*.csv") if p.stem not in STABLECOIN_HINTS
    )
    extra = set(coins) if args.extra_coins == "all" else set(args.extra_coins.split(","))
    rows: dict[str, dict[str, dict[str, float]]] = {}
    errs: Errors = {}
    t0 = time.perf_counter()

    def add(name: str, coin: str, ev: object, plan: FitPlan, paths: np.ndarray) -> None:
        rows.setdefault(name, {})[coin] = model_row(coin, ev)  # type: ignore[arg-type]
        errs.setdefault(name, []).append(errors(plan, paths))

    for coin in coins:
        frame = load(coin)
        base, plan = fitted(DEFAULT_PRESET, frame, coin, args.test_days)
        b = plan.prep.bounds
        at = walkforward.origins(b.test_start, b.end)
        assert base.model is not None and base.spec is not None
        add(
            "default",
            coin,
            base.evaluation,
            plan,
            walkforward.paths(base.model, base.spec, plan.prep, at, 7),
        )
        paper, pplan = fitted("paper", frame, coin, args.test_days)
        assert paper.model is not None and paper.spec is not None
        add(
            "paper",
            coin,
            paper.evaluation,
            pplan,
            walkforward.paths(paper.model, paper.spec, pplan.prep, at, 7),
        )
        seeds = [(base, plan)] + [
            fitted(DEFAULT_PRESET, frame, coin, args.test_days, seed=42 + s) for s in range(1, k)
        ]
        ens = Ensemble.of_seeds(DEFAULT_PRESET, k).assemble(seeds)
        add(f"seeds×{k}", coin, ens.evaluation, plan, ens.test_paths)
        if coin in extra:
            mix = Ensemble([DEFAULT_PRESET, "ets"]).assemble([(base, plan)])
            add("default+ETS", coin, mix.evaluation, plan, mix.test_paths)
            att, aplan = fitted(DEFAULT_PRESET, frame, coin, args.test_days, attention=True)
            assert att.model is not None and att.spec is not None
            add(
                "attention",
                coin,
                att.evaluation,
                aplan,
                walkforward.paths(att.model, att.spec, aplan.prep, at, 7),
            )
            print(
                f"  {coin}: attention shrink weight {att.spec.shrink:.3f}, "
                f"default {base.spec.shrink:.3f}"
            )
            for kind in ("ets", "arima"):
                st = Ensemble([kind]).assemble([], prep=plan.prep)
                add(f"Auto{kind.upper()}", coin, st.evaluation, plan, st.test_paths)
        print(f"  {coin}: done, {time.perf_counter() - t0:.0f} s so far", flush=True)
    for name, table in rows.items():
        print(f"\n## {name}: test = last {args.test_days} days; h=1 point metrics")
        print_rows(table)
        for h in (1, 7):
            dm = pooled_dm(
                [e[0][:, h - 1] for e in errs[name]], [e[1][:, h - 1] for e in errs[name]], h
            )
            print(
                f"  pooled Diebold–Mariano h={h}: stat {dm.statistic:+.2f}, "
                f"p = {dm.p_value:.3g} → {dm.better}"
            )
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
