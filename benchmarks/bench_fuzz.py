"""Full schemathesis campaign (>= 5,000 generated requests over every route) against a
real coincast server process: prints the request count, status histogram, 5xx count and
schema violations. The CI-sized run is tests/integration/test_schemathesis.py.

    python benchmarks/bench_fuzz.py [--min-requests 5000]

Needs the shared data (for the fake CoinGecko behind the coins routes).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import SHARED_DIR  # noqa: E402
from tests.fakes.coingecko import FakeCoinGecko  # noqa: E402
from tests.helpers.live_server import model_files  # noqa: E402
from tests.integration.conftest import settings_env  # noqa: E402
from tests.integration.fuzz import CHECKS, run_schemathesis  # noqa: E402
from tests.integration.procs import running_server  # noqa: E402

from coincast.server.users import UserStore  # noqa: E402
from coincast.settings import Settings  # noqa: E402
from coincast.store.registry import ModelRegistry  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min-requests", type=int, default=5000)
    parser.add_argument("--max-examples", type=int, default=60)
    args = parser.parse_args()
    if not (SHARED_DIR / "fixtures" / "coingecko").is_dir():
        print(f"skipped: shared data not found at {SHARED_DIR}")
        return 0
    fake = FakeCoinGecko(shared_dir=SHARED_DIR).start()
    total = 0
    statuses: Counter[int] = Counter()
    failures: Counter[str] = Counter()
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="cc-fuzz-") as tmp:
            data = Path(tmp) / "data"
            settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
            _user, token = UserStore(settings).add("alice")
            ModelRegistry(settings).save("alice", "btc", *model_files(seed=1))
            env = settings_env(settings)
            env.update(COINCAST_COINGECKO_URL=fake.url, COINCAST_MAX_RETRIES="0")
            with running_server(env) as server:
                seed = 1
                while total < args.min_requests:
                    workdir = Path(tmp) / f"run{seed}"
                    workdir.mkdir()
                    result = run_schemathesis(
                        server.url, token, workdir, max_examples=args.max_examples, seed=seed
                    )
                    total += result.requests
                    statuses.update(result.statuses)
                    failures.update(result.failures)
                    print(
                        f"  campaign seed={seed}: {result.requests} requests, "
                        f"exit {result.returncode}, failures {result.failures or 'none'}",
                        flush=True,
                    )
                    if result.requests == 0:
                        print(result.output[-3000:])
                        break
                    seed += 1
    finally:
        fake.stop()
    elapsed = time.perf_counter() - start
    server_errors = sum(n for s, n in statuses.items() if s >= 500)
    print(f"checks: {', '.join(CHECKS)}")
    print(f"requests: {total} in {elapsed:.0f} s")
    print("statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    print(f"5xx responses: {server_errors}")
    print(f"check failures: {dict(failures) or 0}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
