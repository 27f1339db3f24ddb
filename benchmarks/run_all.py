"""Run every benchmark script in this folder, one after another, and print their figures.

Benchmarks print numbers for the closing note; they assert nothing. Each runs in its own
process so peak-RSS figures are not inflated by the previous one. Set BENCH_ONLY to a
comma-separated list of script names (e.g. ``bench_train,bench_forecast``) to run a subset.
At the end, every line that names an aim ("aim <= 5 s") is printed again, together, so the
figures the issues ask for sit in one table.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
AIM = re.compile(r"\baim\s*(<=|>=|≤|≥)")  # "aim <= 5 s", "aim ≥ 10x": a figure's target
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


def run(script: Path) -> tuple[int, list[str]]:
    """Run one script, its output shown as it comes and kept for the summary."""
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=HERE.parent, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    lines = []
    for text in proc.stdout:
        print(text, end="", flush=True)
        lines.append(text)
    return proc.wait(), lines


def main() -> int:
    only = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
    scripts = [HERE / f"{name}.py" for name in ORDER if (HERE / f"{name}.py").exists()]
    scripts += sorted(p for p in HERE.glob("bench_*.py") if p not in scripts)
    failed = []
    aims: list[tuple[str, str]] = []
    for script in scripts:
        if only and script.stem not in only:
            continue
        print(f"\n=== {script.stem} ===", flush=True)
        start = time.perf_counter()
        code, lines = run(script)
        aims += [(script.stem, text) for text in lines if AIM.search(text)]
        print(f"--- {script.stem}: exit {code}, {time.perf_counter() - start:.1f} s", flush=True)
        if code:
            failed.append(script.stem)
    if aims:
        print("\n=== every figure with an aim (the lines above that name one) ===")
        for stem, text in aims:
            print(f"{stem:>16}: {text.strip()}")
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
