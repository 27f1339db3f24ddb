"""Run every benchmark script in this folder, one after another, and print their figures.

Benchmarks print numbers for the closing note; they assert nothing. Each runs in its own
process so peak-RSS figures are not inflated by the previous one. Set BENCH_ONLY to a
comma-separated list of script names (e.g. ``bench_train,bench_forecast``) to run a subset.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "bench_train",
    "bench_forecast",
    "bench_api",
    "bench_refresh",
    "bench_load",
    "bench_ledger",
    "bench_models",
    "bench_risk",
    "bench_global",
]


def main() -> int:
    only = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
    scripts = [HERE / f"{name}.py" for name in ORDER if (HERE / f"{name}.py").exists()]
    scripts += sorted(p for p in HERE.glob("bench_*.py") if p not in scripts)
    failed = []
    for script in scripts:
        if only and script.stem not in only:
            continue
        print(f"\n=== {script.stem} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"--- {script.stem}: exit {code}, {time.perf_counter() - start:.1f} s", flush=True)
        if code:
            failed.append(script.stem)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
