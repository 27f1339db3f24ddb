"""Time a top-N refresh against the fake CoinGecko at a plan's rate; print, assert nothing.

What it shows: a full refresh is bound by the client-side rate limit, not by our code.
The floor is the limiter's own spacing: the first call goes at once, every further call
``60 / rate`` seconds after the previous one, so ``(calls - 1) * 60 / rate`` seconds.
The figure of interest is how far above that floor the run lands (HTTP, parsing,
SQLite writes), and how few calls the incremental second run needs.

    python benchmarks/bench_refresh.py                  # top 100 at the public rate (~20 min)
    python benchmarks/bench_refresh.py --coins 10 --rate 60

The fake serves history only for the coins with a file in shared/data/daily; the others
answer 404 "coin not found" (one call each, not retried), as an unknown id would.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fakes (the benchmark reuses the test fake)

from tests.fakes.coingecko import FakeCoinGecko, _default_shared  # noqa: E402

from coincast.data.coingecko.client import CoinGeckoClient  # noqa: E402
from coincast.data.market.cache import MarketCache  # noqa: E402
from coincast.data.market.refresh import refresh_top  # noqa: E402
from coincast.settings import DEFAULT_RATE_PER_MINUTE  # noqa: E402

CHART = "/coins/*/market_chart"


def run_once(fake: FakeCoinGecko, cache: MarketCache, coins: int) -> tuple[float, int, int, list]:
    before_markets, before_chart = fake.count("/coins/markets"), fake.count(CHART)
    start = time.perf_counter()
    with CoinGeckoClient(cache.settings) as client:
        results = refresh_top(client, cache, coins)
    elapsed = time.perf_counter() - start
    markets = fake.count("/coins/markets") - before_markets
    chart = fake.count(CHART) - before_chart
    return elapsed, markets, chart, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coins", type=int, default=100, help="top N coins (default 100)")
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE_PER_MINUTE["public"],
        help="calls per minute (default: the public plan's default)",
    )
    args = parser.parse_args(argv)
    shared = _default_shared()
    if not (shared / "fixtures" / "coingecko").is_dir():
        print(f"skipped: shared fixtures not found at {shared}")
        return 0
    fake = FakeCoinGecko(shared_dir=shared).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = fake.settings(Path(tmp), requests_per_minute=args.rate, http_timeout=20.0)
            cache = MarketCache(settings)
            interval = 60.0 / args.rate
            print(f"top {args.coins} coins, {args.rate:g} calls/min ({interval:.2f} s apart)")

            elapsed, markets, chart, results = run_once(fake, cache, args.coins)
            calls = markets + chart
            floor = (calls - 1) * interval
            stored = sum(r.new_rows for r in results)
            ok = sum(r.ok for r in results)
            print(
                f"first run:  {elapsed:8.1f} s  {calls} calls ({markets} list + {chart} chart), "
                f"{ok}/{len(results)} coins ok, {stored} rows stored"
            )
            print(
                f"  rate-limit floor (calls-1)*60/rate = {floor:.1f} s "
                f"(calls/rate = {calls / args.rate * 60:.1f} s); "
                f"run/floor = {elapsed / floor if floor else float('nan'):.3f}; "
                f"overhead {max(0.0, elapsed - floor) / calls * 1000:.0f} ms/call"
            )

            elapsed2, markets2, chart2, results2 = run_once(fake, cache, args.coins)
            stored_ids = {r.coin_id for r in results if r.ok}
            stored_calls = sum(1 for r in results2 if r.coin_id in stored_ids and r.called_api)
            skipped = sum(1 for r in results2 if r.status == "skipped_missing")
            print(
                f"second run: {elapsed2:8.1f} s  {markets2 + chart2} calls ({markets2} list + "
                f"{chart2} chart; {stored_calls} for the {len(stored_ids)} stored coins, "
                f"{chart2 - stored_calls} for other ids; {skipped} ids CoinGecko 404'd "
                "skipped without a call)"
            )
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
