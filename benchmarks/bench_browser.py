"""Browser training: the fused kernel (web/lstm_fast.js) against TF.js's WASM backend (prints).

Headless Chromium (Debian's /usr/bin/chromium via Playwright) opens the page from a static
server and trains the paper model (LSTM(50) → Dense(1), window 30, price + volume, batch
32, Adam 1e-3, MSE, validation loss each epoch) on bitcoin's whole daily history
(../shared/data/daily/bitcoin.csv, split by the page's own prepare(): ≈4,200 training
windows) and on its last 365 days, both ways in the same browser, rounds alternating
which goes first. TF.js runs few epochs (each ≈10 s), extrapolated per epoch; the kernel
runs more, and the 365-day case runs the full 50 epochs. Prints medians over rounds, the
ratio (aim ≥ 10x) and 365 days x 50 epochs (aim ≤ 30 s), with `uptime` before and after:
the machine is shared, so figures from a busy one are worth little.

Environment: BENCH_BROWSER_ROUNDS (default 3), BENCH_BROWSER_TFJS_EPOCHS (default 2),
BENCH_BROWSER_FAST_EPOCHS (default 5), COINCAST_SHARED_DIR (data location).
"""

from __future__ import annotations

import functools
import http.server
import os
import statistics
import subprocess
import threading
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "src" / "coincast" / "web"
SHARED = Path(os.environ.get("COINCAST_SHARED_DIR", ROOT.parent / "shared"))
CSV = SHARED / "data" / "daily" / "bitcoin.csv"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
ROUNDS = int(os.environ.get("BENCH_BROWSER_ROUNDS", "3"))
TFJS_EPOCHS = int(os.environ.get("BENCH_BROWSER_TFJS_EPOCHS", "2"))
FAST_EPOCHS = int(os.environ.get("BENCH_BROWSER_FAST_EPOCHS", "5"))
FULL_EPOCHS = 50

# One training run in the page: per-epoch seconds and losses, plus setup (model build and
# data preparation) and the total wall time of the call.
_RUN = """async ({history, kernel, epochs}) => {
  const bt = await import('./browser_train.js');
  const ff = await import('./fast_fit.js');
  const tf = await bt.loadTf();
  const t0 = performance.now();
  const data = bt.prepare(history, 30, 0.1, 0.1);
  const params = {units: 50, lr: 1e-3, batchSize: 32, epochs};
  const model = bt.buildPaperModel(tf, 30, 50, 1e-3);
  const times = [];
  const losses = [];
  let last = performance.now();
  const onEpochEnd = async (epoch, logs) => {
    const now = performance.now();
    times.push((now - last) / 1000);
    losses.push(logs.loss);
    last = now;
  };
  let engine = tf.getBackend();
  if (kernel === 'fast') {
    last = performance.now();
    engine = (await ff.fitFast(tf, model, data, params, onEpochEnd)).kernel;
  } else {
    const valEnd = data.nTrain + data.nVal;
    const x = tf.tensor3d(data.xs.slice(0, data.nTrain));
    const y = tf.tensor2d(data.ys.slice(0, data.nTrain), [data.nTrain, 1]);
    const xv = tf.tensor3d(data.xs.slice(data.nTrain, valEnd));
    const yv = tf.tensor2d(data.ys.slice(data.nTrain, valEnd), [data.nVal, 1]);
    last = performance.now();
    await model.fit(x, y, {epochs, batchSize: 32, shuffle: true, validationData: [xv, yv],
                           callbacks: {onEpochEnd}});
    tf.dispose([x, y, xv, yv]);
  }
  model.dispose();
  return {times, losses, engine, windows: data.nTrain, total: (performance.now() - t0) / 1000};
}"""


def history(days: int | None = None) -> dict[str, list[Any]]:
    frame = pd.read_csv(CSV)
    if days is not None:
        frame = frame.tail(days)
    return {
        "dates": frame["date"].tolist(),
        "price": frame["price"].astype(float).tolist(),
        "volume": frame["volume"].astype(float).tolist(),
    }


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    if not Path(CHROMIUM).exists():
        print(f"skipped: {CHROMIUM} not found (install Debian's chromium)")
        return
    from playwright.sync_api import sync_playwright

    handler = functools.partial(_Quiet, directory=str(WEB))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    full, year = history(), history(365)
    print(f"uptime before: {uptime()}")
    per_epoch: dict[str, list[float]] = {"tfjs": [], "fast": []}
    year_total: dict[str, list[float]] = {"tfjs": [], "fast": []}
    engines: dict[str, str] = {}
    windows = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.route("**/api/v1/**", lambda route: route.abort("connectionrefused"))
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.wait_for_selector("body[data-ready='true']")
        # Warm-up: load TF.js, compile both engines (not timed).
        for kernel in ("tfjs", "fast"):
            page.evaluate(_RUN, {"history": history(120), "kernel": kernel, "epochs": 1})
        for r in range(ROUNDS):
            order = ("tfjs", "fast") if r % 2 == 0 else ("fast", "tfjs")
            for kernel in order:
                epochs = TFJS_EPOCHS if kernel == "tfjs" else FAST_EPOCHS
                out = page.evaluate(_RUN, {"history": full, "kernel": kernel, "epochs": epochs})
                per_epoch[kernel].append(statistics.median(out["times"]))
                engines[kernel], windows["full"] = out["engine"], out["windows"]
                # 365 days: the kernel trains all 50 epochs; TF.js a few, extrapolated.
                epochs = FULL_EPOCHS if kernel == "fast" else TFJS_EPOCHS
                out = page.evaluate(_RUN, {"history": year, "kernel": kernel, "epochs": epochs})
                windows["year"] = out["windows"]
                if kernel == "fast":
                    year_total[kernel].append(out["total"])
                else:
                    year_total[kernel].append(statistics.median(out["times"]) * FULL_EPOCHS)
                print(
                    f"round {r + 1} {kernel:4s}: {per_epoch[kernel][-1]:.3f} s/epoch (bitcoin), "
                    f"365 d x 50 epochs {year_total[kernel][-1]:.1f} s",
                    flush=True,
                )
        browser.close()
    server.shutdown()
    print(f"uptime after: {uptime()}")
    tfjs, fast = statistics.median(per_epoch["tfjs"]), statistics.median(per_epoch["fast"])
    year_fast = statistics.median(year_total["fast"])
    year_tfjs = statistics.median(year_total["tfjs"])
    print(
        f"data: bitcoin, {windows['full']} training windows (all history) and "
        f"{windows['year']} (last 365 days); medians of {ROUNDS} alternating rounds"
    )
    print(f"TF.js ({engines['tfjs']}) per epoch: {tfjs:.3f} s ({TFJS_EPOCHS} epochs a round)")
    print(f"fused kernel ({engines['fast']}) per epoch: {fast:.3f} s ({FAST_EPOCHS} a round)")
    ratios = [t / f for t, f in zip(per_epoch["tfjs"], per_epoch["fast"], strict=True)]
    print(
        f"browser training ratio: {statistics.median(ratios):.1f}x TF.js WASM (aim >= 10x; "
        f"median of the rounds' ratios, each {min(ratios):.1f}-{max(ratios):.1f}x)"
    )
    print(
        f"365 days x 50 epochs: {year_fast:.1f} s with the kernel (aim <= 30 s; measured, setup "
        f"included); TF.js WASM {year_tfjs:.1f} s (extrapolated)"
    )


if __name__ == "__main__":
    main()
