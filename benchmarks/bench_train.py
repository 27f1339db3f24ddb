"""Training speed of the paper model, against the physical limit and TF.js (prints, no asserts).

Data: ../shared/data/daily/bitcoin.csv, 2014-01-01..2022-12-31; price and volume min-max
scaled on that period; windows of 30 days → the next day's scaled price (≈3,257 windows).
Prints: the machine's large-matmul throughput (the physical limit), the paper model's
FLOP count, 50-epoch training time for the plain nn.LSTM loop and for coincast's kernel,
forecast-30-days latency, peak RSS, batched-vs-sequential throughput for 100 paper
models (the 20 shared coins, 5 seeds each), and TF.js in Node (pure JS and WASM) for a
few epochs, extrapolated to 50.

Environment: BENCH_EPOCHS (default 50) for the single-model runs; BENCH_MANY_EPOCHS
(default 1) epochs of the 100-model runs, extrapolated to 50; BENCH_SEQ_MODELS (default
3) models timed one by one for the sequential figure; BENCH_TFJS=0 skips Node;
BENCH_MANY=0 skips the 100-model section;
COINCAST_SHARED_DIR (data location). Timings on a busy machine are not worth much:
re-run on a quiet one.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from coincast.model.fast.batched import train_many
from coincast.model.fast.native import native_status
from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.model.schedule import TrainConfig
from coincast.model.train import train_model, train_reference

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COINCAST_SHARED_DIR", ROOT.parent / "shared"))
DAILY = SHARED / "data" / "daily"
START, END = "2014-01-01", "2022-12-31"
WINDOW, UNITS, FEATURES = 30, 50, 2
EPOCHS = int(os.environ.get("BENCH_EPOCHS", "50"))
MANY_EPOCHS = int(os.environ.get("BENCH_MANY_EPOCHS", "1"))
SEQ_MODELS = int(os.environ.get("BENCH_SEQ_MODELS", "3"))
N_MANY = 100


def windows(csv: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """price+volume scaled on the period itself → x [N, 30, 2], y [N] (next scaled price)."""
    frame = pd.read_csv(csv, index_col="date", parse_dates=True).loc[START:END]
    values = frame[["price", "volume"]].to_numpy(np.float64)
    lo, hi = values.min(axis=0), values.max(axis=0)
    scaled = ((values - lo) / np.where(hi > lo, hi - lo, 1.0)).astype(np.float32)
    x = np.lib.stride_tricks.sliding_window_view(scaled, (WINDOW, FEATURES))[:-1, 0]
    return torch.from_numpy(x.copy()), torch.from_numpy(scaled[WINDOW:, 0].copy())


def flop_per_window(t: int = WINDOW, n_in: int = FEATURES, u: int = UNITS) -> int:
    """Matmul FLOP for one window, forward + backward (element-wise ops are not counted).

    Forward: T steps of [In+U] @ [In+U, 4U]; backward: dh (U), dW_hh (U) and dW_ih (In).
    """
    forward = 2 * t * 4 * u * (n_in + u)
    backward = 2 * t * 4 * u * (2 * u + n_in)
    return forward + backward + 2 * (u + 1) * 2  # + head forward/backward (negligible)


def gemm_floor_ms(m: int, b: int = 32, t: int = WINDOW, u: int = UNITS, reps: int = 20) -> float:
    """Time of only the matmuls one training step of m paper models makes, at this size.

    Forward: T batched [B, U] @ [U, 4U]; backward: T-1 batched [B, 4U] @ [4U, U] and the
    weight gradient [4U, T*B] @ [T*B, U]. This is what the GEMM library (MKL) needs for
    the FLOPs counted above at these small shapes, before any element-wise work.
    """
    h, w_t, out4 = torch.rand(m, b, u), torch.rand(m, u, 4 * u), torch.empty(m, b, 4 * u)
    dg, w, out1 = torch.rand(m, t, b, 4 * u), torch.rand(m, 4 * u, u), torch.empty(m, b, u)
    hs = torch.rand(m, t * b, u)

    def step() -> None:
        for _ in range(t):
            torch.bmm(h, w_t, out=out4)
        for k in range(t - 1):
            torch.bmm(dg[:, k], w, out=out1)
        torch.bmm(dg.view(m, t * b, 4 * u).transpose(1, 2), hs)

    step()
    t0 = time.perf_counter()
    for _ in range(reps):
        step()
    return (time.perf_counter() - t0) / reps * 1e3


def matmul_gflops(threads: int, n: int = 2048, reps: int = 5) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def paper_model(seed: int) -> LSTMRegressor:
    return LSTMRegressor(ModelConfig(), generator=torch.Generator().manual_seed(seed))


def timed_training(
    fn: object, x: torch.Tensor, y: torch.Tensor, epochs: int
) -> tuple[float, LSTMRegressor]:
    model = paper_model(42)
    t0 = time.perf_counter()
    fn(model, x, y, config=TrainConfig(epochs=epochs))  # type: ignore[operator]
    return time.perf_counter() - t0, model


def forecast_30(model: LSTMRegressor, x_last: torch.Tensor) -> torch.Tensor:
    """Iterative 30-day forecast, batch 1; volume carried forward (the simplest rule)."""
    window = x_last.clone().unsqueeze(0)  # [1, 30, 2]
    out = torch.empty(30)
    with torch.no_grad():
        for h in range(30):
            pred = model(window)
            out[h] = pred[0]
            nxt = torch.stack([pred[0], window[0, -1, 1]]).view(1, 1, 2)
            window = torch.cat([window[:, 1:], nxt], dim=1)
    return out


def bench_single(x: torch.Tensor, y: torch.Tensor, limit: dict[int, float]) -> float:
    """Prints the single-model figures; returns our best 50-epoch time (scaled if fewer)."""
    n = x.shape[0]
    total_flop = flop_per_window() * n * EPOCHS
    print(f"data: bitcoin {START}..{END}, {n} windows of {WINDOW}x{FEATURES}")
    print(
        f"paper model FLOP: {flop_per_window() / 1e6:.2f} MFLOP per window per epoch "
        f"(fwd+bwd matmuls) → {total_flop:.2e} FLOP for {EPOCHS} epochs"
    )
    for threads in sorted(limit):
        print(
            f"  at the large-matmul limit ({threads} thread(s)): "
            f"{total_flop / limit[threads] / 1e9:.2f} s"
        )
    ours_by_threads = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        ref_s, ref_model = timed_training(train_reference, x, y, EPOCHS)
        ours_s, ours_model = timed_training(train_model, x, y, EPOCHS)
        ours_by_threads[threads] = ours_s
        diff = max(
            float((a - b).abs().max())
            for a, b in zip(
                ref_model.state_dict().values(), ours_model.state_dict().values(), strict=True
            )
        )
        print(
            f"{EPOCHS}-epoch training, {threads} thread(s): plain nn.LSTM loop {ref_s:.2f} s | "
            f"coincast kernel {ours_s:.2f} s ({ref_s / ours_s:.2f}x, "
            f"{total_flop / ours_s / 1e9:.1f} GFLOP/s) | max weight difference {diff:.1e}"
        )
    best_threads = min(ours_by_threads, key=lambda k: ours_by_threads[k])
    torch.set_num_threads(best_threads)
    model = paper_model(42)
    train_model(model, x[:64], y[:64], config=TrainConfig(epochs=1))
    model.eval()
    for _ in range(5):
        forecast_30(model, x[-1])
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        forecast_30(model, x[-1])
        times.append(time.perf_counter() - t0)
    print(
        f"forecast 30 days (iterative, batch 1, {best_threads} thread(s)): median "
        f"{statistics.median(times) * 1e3:.2f} ms, best {min(times) * 1e3:.2f} ms"
    )
    return ours_by_threads[best_threads] * 50 / EPOCHS  # seconds for 50 epochs


def bench_many(limit: dict[int, float]) -> None:
    coins = sorted(DAILY.glob("*.csv"))
    data = []
    for csv in coins:
        x, y = windows(csv)
        if x.shape[0] >= 64:
            data.append((x, y))
    repeats = -(-N_MANY // len(data))
    sets = [(x, y, None, None) for x, y in data] * repeats
    sets = sets[:N_MANY]
    seeds = list(range(len(sets)))
    n_windows = sum(int(d[0].shape[0]) for d in sets)
    flop = flop_per_window() * n_windows * 50
    print(
        f"\n{len(sets)} paper models: {len(data)} shared coins (from {START} or listing, to "
        f"{END}) repeated with different seeds; {n_windows} windows in all; "
        f"{flop:.2e} FLOP for 50 epochs"
    )
    for threads in sorted(limit):
        print(
            f"  at the large-matmul limit ({threads} thread(s)): "
            f"{flop / limit[threads] / 1e9:.1f} s"
        )
    # The machine's limit: its best large-matmul throughput, whatever the thread count.
    best_s = flop / max(limit.values()) / 1e9
    step_flop = 32 * 32 * flop_per_window()
    for threads in sorted(limit):
        torch.set_num_threads(threads)
        floor = gemm_floor_ms(32)
        at_limit = step_flop / limit[threads] / 1e6
        print(
            f"  {threads} thread(s): the matmuls alone of one step of 32 models take "
            f"{floor:.1f} ms with MKL at these shapes, against {at_limit:.1f} ms at the "
            f"large-matmul limit ({floor / at_limit:.2f}x): no engine that calls the GEMM "
            "library can do better than that ratio"
        )
    cfg = TrainConfig(epochs=MANY_EPOCHS)
    scale = 50 / MANY_EPOCHS
    for threads in (1, 2):
        torch.set_num_threads(threads)
        # Sequential: the first SEQ_MODELS models one by one, extrapolated by window count.
        seq: dict[str, float] = {}
        for name, fn in (("kernel", train_model), ("plain", train_reference)):
            t0 = time.perf_counter()
            seq_windows = 0
            for i in range(SEQ_MODELS):
                x, y, _, _ = sets[i]
                fn(paper_model(seeds[i]), x, y, config=cfg)
                seq_windows += int(x.shape[0])
            seq[name] = (time.perf_counter() - t0) * n_windows / seq_windows * scale
        print(
            f"  {threads} thread(s), sequential: plain nn.LSTM loop {seq['plain']:.0f} s, "
            f"coincast kernel one model at a time {seq['kernel']:.0f} s for 50 epochs"
        )
        for group in (16, None):
            models = [paper_model(s) for s in seeds]
            t0 = time.perf_counter()
            train_many(models, sets, cfg, group_size=group)
            many_s = (time.perf_counter() - t0) * scale
            label = f"groups of {group}" if group else f"all {len(sets)} at once"
            print(
                f"  {threads} thread(s), batched, {label}: {many_s:.0f} s for 50 epochs "
                f"({flop / many_s / 1e9:.1f} GFLOP/s, "
                f"{many_s / (flop / limit[threads] / 1e9):.2f}x the {threads}-thread limit, "
                f"{many_s / best_s:.2f}x the machine's best; "
                f"{seq['plain'] / many_s:.1f}x faster than the plain loop, "
                f"{seq['kernel'] / many_s:.1f}x than our kernel one at a time)"
            )
    print(
        f"  (extrapolated to 50 epochs from {MANY_EPOCHS} epoch(s); sequential from the first "
        f"{SEQ_MODELS} models timed alone, scaled by window count)"
    )


def bench_tfjs(x: torch.Tensor, y: torch.Tensor, ours_s: float) -> None:
    """ours_s: coincast's time for 50 epochs on the same data."""
    node = shutil.which("node")
    script = ROOT / "benchmarks" / "tfjs_train.js"
    if node is None or not (ROOT / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        print("\nTF.js: skipped (node or node_modules/@tensorflow/tfjs missing; run make node)")
        return
    n = x.shape[0]
    print("\nTF.js in Node, identical model (LSTM(50), recurrentActivation 'sigmoid'), batch 32:")
    with tempfile.TemporaryDirectory() as tmp:
        # backend, windows used, epochs run (the first epoch is warm-up and not counted)
        for backend, n_used, epochs in (("wasm", n, 3), ("cpu", min(n, 480), 2)):
            path = Path(tmp) / f"{backend}.bin"
            xs = x[:n_used].numpy().astype("<f4")
            ys = y[:n_used].numpy().astype("<f4")
            path.write_bytes(xs.tobytes() + ys.tobytes())
            cmd = [
                node,
                str(script),
                str(path),
                str(n_used),
                str(WINDOW),
                str(FEATURES),
                backend,
                str(epochs),
            ]
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(f"  {backend}: failed: {proc.stderr.strip()[-300:]}")
                continue
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            epoch_s = statistics.mean(result["epoch_s"][1:]) * n / n_used
            total = epoch_s * 50
            scope = "all windows" if n_used == n else f"{n_used} of {n} windows, scaled up"
            print(
                f"  {backend:4s}: {epoch_s:7.2f} s per epoch ({scope}; mean of epochs "
                f"2..{epochs}) → "
                f"≈{total:7.0f} s for 50 epochs (extrapolated), {total / ours_s:.0f}x coincast's "
                f"{ours_s:.2f} s for 50 epochs"
            )


def main() -> int:
    csv = DAILY / "bitcoin.csv"
    if not csv.exists():
        print(f"skipped: {csv} not found (set COINCAST_SHARED_DIR)")
        return 0
    x, y = windows(csv)
    print(f"LSTM time loop: {native_status()}")
    # Best of three rounds: another process taking the core for a moment would otherwise
    # lower the limit and flatter every ratio printed against it.
    limit = {t: max(matmul_gflops(t) for _ in range(3)) for t in (1, 2)}
    for t, g in limit.items():
        print(f"large matmul (2048², float32), {t} thread(s): {g:.1f} GFLOP/s")
    ours_s = bench_single(x, y, limit)
    rss_single = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS after single-model runs: {rss_single:.0f} MB")
    if os.environ.get("BENCH_TFJS", "1") != "0":
        bench_tfjs(x, y, ours_s)
    if os.environ.get("BENCH_MANY", "1") != "0":
        bench_many(limit)
    print(f"peak RSS overall: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
