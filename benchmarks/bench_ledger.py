"""The forecast ledger replayed over 2024: the daily job, day by day, for five coins.

Each coin's default-preset model is trained once on its days before 2024 (2018-01-01 ..
2023-12-31; never retrained, so 2024 is out of sample throughout) and saved; the real
daily job (``coincast.ledger.daily.run_daily``) then runs for every day of 2024 with the
clock injected: it "refreshes" from a client that serves the shared CSVs up to that day,
scores what became known, and records a 7-day forecast from every tracked model. Prints
each coin's all-time track record beside naive (MAE ratio, 90 % interval coverage,
direction with its binomial p, Diebold–Mariano vs naive) and the job's time per day.

Environment: BENCH_LEDGER_COINS=bitcoin,ethereum (subset), BENCH_LEDGER_DAYS=N (first N
days of 2024 only), COINCAST_SHARED_DIR (data location).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from coincast.api import Forecaster, save
from coincast.data.coingecko.client import MarketCoin
from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.ledger.daily import run_daily
from coincast.ledger.records import Ledger
from coincast.ledger.scoring import track_record
from coincast.model.presets import DEFAULT_PRESET
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COINCAST_SHARED_DIR", ROOT.parent / "shared"))
DAILY = SHARED / "data" / "daily"
COINS = ["bitcoin", "ethereum", "ripple", "cardano", "litecoin"]
TRAIN_START, FIRST_DAY = "2018-01-01", date(2024, 1, 1)


class CsvClient:
    """Plays CoinGecko from the shared CSVs: the days up to the simulated today."""

    def __init__(self, frames: dict[str, pd.DataFrame], today: date) -> None:
        self.frames, self.today, self.notices = frames, today, list[str]()

    def top_coins(self, n: int = 100) -> list[MarketCoin]:
        return []

    def daily_history(self, coin_id: str, days: int | None = None) -> pd.DataFrame:
        frame = self.frames[coin_id].loc[: str(self.today)]
        return frame if days is None else frame.iloc[-days:]


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    coins = [c for c in os.environ.get("BENCH_LEDGER_COINS", ",".join(COINS)).split(",") if c]
    if not all((DAILY / f"{c}.csv").exists() for c in coins):
        print(f"skipped: CSVs for {coins} not found in {DAILY} (set COINCAST_SHARED_DIR)")
        return 0
    n_days = int(os.environ.get("BENCH_LEDGER_DAYS", "366"))
    frames = {c: read_history_csv(DAILY / f"{c}.csv").loc[TRAIN_START:"2024-12-31"] for c in coins}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp))  # type: ignore[call-arg]
        cache, registry, ledger = MarketCache(settings), ModelRegistry(settings), Ledger(settings)
        for coin in coins:
            before = frames[coin].loc[:"2023-12-31"]
            cache.upsert_history(coin, before, source="csv")
            start = time.perf_counter()
            fc = Forecaster(DEFAULT_PRESET)
            fc.fit(before, coin=coin)
            save(fc, registry, "bench", coin)
            ledger.track("bench", coin, coin, days=7)
            print(f"{coin}: trained {DEFAULT_PRESET} on {len(before)} days before 2024 "
                  f"in {time.perf_counter() - start:.1f} s")  # fmt: skip
        start = time.perf_counter()
        for i in range(n_days):
            day = FIRST_DAY + timedelta(days=i)
            report = run_daily(
                settings, today=day, client_factory=lambda d=day: CsvClient(frames, d)
            )
            if report.problems:
                print(f"{day}: {report.problems}")
        per_day = (time.perf_counter() - start) / n_days
        print(f"\n{n_days} simulated days, {per_day:.2f} s per daily run ({len(coins)} coins)\n")
        print(f"{'coin':10} {'scored':>6} {'MAE':>10} {'naive MAE':>10} {'ratio':>6} "
              f"{'cover':>6} {'direction':>10} {'dir p':>7} {'DM p':>7}  verdict")  # fmt: skip
        pooled = []
        for coin in coins:
            rows = ledger.rows("bench", coin, coin)
            pooled += rows
            t = track_record(rows)[-1]
            dm = "–" if t.dm_p is None else f"{t.dm_p:.3g}"
            # No called direction (a model shrunk to naive predicts no change): say so.
            hit = f"{100 * t.direction:5.1f}%/{t.direction_n}" if t.direction_n else "none"
            dir_p = f"{t.direction_p:.3g}" if t.direction_n else "–"
            print(f"{coin:10} {t.n:6d} {t.mae:10.2f} {t.naive_mae:10.2f} {t.mae_ratio:6.3f} "
                  f"{100 * t.coverage:5.1f}% {hit:>10} {dir_p:>7} {dm:>7}  "
                  f"{t.verdict}")  # fmt: skip
        ratios = [track_record(ledger.rows("bench", c, c))[-1].mae_ratio for c in coins]
        print(
            f"\nmean MAE ratio to naive over the coins: {sum(ratios) / len(ratios):.3f} "
            "(below 1 = better than tomorrow = today)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
