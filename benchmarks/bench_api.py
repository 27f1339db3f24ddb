"""REST API latency on loopback: paper-model upload/download, forecast under 20 clients.

Stores bitcoin's daily history (from the shared data, else a synthetic series) in a
temporary data dir, starts ``coincast serve --port 0`` on it in its own process, and:

1. uploads the paper model (LSTM(50) → Dense(1), window 30: ~42 KB of weights) N times
   as TF.js multipart, then downloads model.json + weights N times: p50/p99 ms;
2. trains one paper forecaster briefly (the weights' quality does not matter for latency)
   and hits ``POST …/forecast {"days": 7}`` from 20 concurrent clients: p50/p99 ms and
   requests/s, in rounds alternating with ``GET /health`` at the same concurrency (the
   floor of this setup: FastAPI, uvicorn and the 20 clients); the medians over rounds
   beside the aim and anchor.

Prints figures; asserts nothing. BENCH_API_REQUESTS: per-client count; BENCH_API_ROUNDS.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import torch

from coincast.api import Forecaster
from coincast.data.market.cache import MarketCache
from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from coincast.store.tfjs.write import to_tfjs

CLIENTS = 20
PER_CLIENT = int(os.environ.get("BENCH_API_REQUESTS", "100"))
TRANSFERS = 50
ROUNDS = int(os.environ.get("BENCH_API_ROUNDS", "3"))


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """``coincast serve`` in its own process, as a user runs it: the 20 clients' Python
    must not share the server's GIL (in one process, GET /health alone had p99 ~170 ms)."""
    env = {**os.environ, "COINCAST_DATA_DIR": str(settings.data_dir),
           "COINCAST_COINGECKO_URL": "http://127.0.0.1:9"}  # fmt: skip
    cli = [sys.executable, "-c", "from coincast.cli import main; main()", "serve", "--port", "0"]
    proc = subprocess.Popen(
        cli, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        for text in proc.stdout:
            found = re.search(r"http://127\.0\.0\.1:(\d+)/", text)
            if found:
                break
        else:
            raise RuntimeError("coincast serve exited before printing its URL")
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
        yield f"http://127.0.0.1:{found.group(1)}/api/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def history(settings: Settings) -> pd.DataFrame:
    csv = settings.shared_dir / "data" / "daily" / "bitcoin.csv"
    if csv.is_file():
        frame = pd.read_csv(csv, parse_dates=["date"], index_col="date")
        return frame.loc[:, ["price", "volume", "market_cap"]].astype("float64")
    t = np.arange(1500, dtype=np.float64)
    index = pd.date_range("2020-01-01", periods=t.size, freq="D", name="date")
    price = 30000 + 5000 * np.sin(t / 40) + 5 * t
    return pd.DataFrame({"price": price, "volume": 1e9 + 0 * t, "market_cap": price * 2e7}, index)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def line(what: str, ms: list[float]) -> None:
    print(
        f"{what:<34} n={len(ms):>4}  p50 {pct(ms, 50):8.2f} ms  p99 {pct(ms, 99):8.2f} ms  "
        f"mean {statistics.fmean(ms):8.2f} ms",
        flush=True,
    )


def transfer(api: str) -> None:
    model = LSTMRegressor(ModelConfig(), generator=torch.Generator().manual_seed(0))
    doc, weights = to_tfjs(model, 30, {"coin": "bitcoin"})
    model_json = json.dumps(doc).encode()
    files = {
        "model.json": ("model.json", model_json, "application/json"),
        "model.weights.bin": ("model.weights.bin", weights, "application/octet-stream"),
    }
    print(f"paper model: model.json {len(model_json)} B, weights {len(weights)} B")
    up: list[float] = []
    down: list[float] = []
    with httpx.Client(base_url=api, timeout=60) as c:
        for i in range(TRANSFERS + 3):
            t0 = time.perf_counter()
            r = c.post("/users/local/models/bench", files=files)
            dt = (time.perf_counter() - t0) * 1000
            r.raise_for_status()
            if i >= 3:  # burn-in
                up.append(dt)
        for i in range(TRANSFERS + 3):
            t0 = time.perf_counter()
            a = c.get("/users/local/models/bench/versions/latest/model.json")
            b = c.get("/users/local/models/bench/versions/latest/model.weights.bin")
            dt = (time.perf_counter() - t0) * 1000
            assert a.status_code == b.status_code == 200
            if i >= 3:
                down.append(dt)
    line("upload (multipart, validate, store)", up)
    line("download (model.json + weights)", down)


def forecast_load(api: str, settings: Settings, frame: pd.DataFrame) -> None:
    t0 = time.perf_counter()
    fc = Forecaster("paper", epochs=1).fit(frame, coin="bitcoin")
    assert fc.model is not None and fc.spec is not None
    doc, weights = to_tfjs(fc.model, fc.spec.window, fc.metadata())
    ModelRegistry(settings).save("local", "btc-paper", json.dumps(doc).encode(), weights)
    print(f"trained + stored the paper forecaster in {time.perf_counter() - t0:.1f} s")
    url = "/users/local/models/btc-paper/versions/latest/forecast"

    def burst(path: str, body: dict[str, int] | None) -> tuple[list[float], float]:
        return asyncio.run(_burst(api, path, body))

    with httpx.Client(base_url=api, timeout=120) as c:  # burn-in: load + cache the model
        for _ in range(3):
            c.post(url, json={"days": 7}).raise_for_status()
    # The machine is shared: forecast rounds alternate with rounds of GET /health (the
    # floor of this setup: uvicorn + FastAPI in one process, 20 clients in this one).
    p99s: list[float] = []
    floors: list[float] = []
    for k in range(ROUNDS):
        ms, wall = burst(url, {"days": 7})
        line(f"forecast 7 d, {CLIENTS} clients, round {k + 1}", ms)
        print(f"throughput: {len(ms) / wall:.1f} forecasts/s over {wall:.1f} s")
        health, _ = burst("/health", None)
        line(f"GET /health, {CLIENTS} clients, round {k + 1}", health)
        p99s.append(pct(ms, 99))
        floors.append(pct(health, 99))
    x, floor = statistics.median(p99s), statistics.median(floors)
    print(f"API 7-day p99 at {CLIENTS} clients: {x:.1f} ms (aim ≤ 50 ms; anchor 293 ms; "
          f"{x / 293:.2f}× the anchor); GET /health p99 in the same rounds {floor:.1f} ms; "
          f"medians of {ROUNDS} alternating rounds")  # fmt: skip


async def _burst(api: str, path: str, body: dict[str, int] | None) -> tuple[list[float], float]:
    """20 clients at once, each on its own keep-alive connection, each sending its next
    request when the last one is answered. One asyncio loop in this process drives all
    of them: 20 client threads fought over this process's GIL and added their own wait
    to every figure. The clients are made and connected (one untimed request each)
    before the clock starts: making an httpx client costs ~15 ms of this loop, which
    the first requests of the others would wait out. Every status is checked and every
    answer parsed."""

    async def one(c: httpx.AsyncClient) -> float:
        t = time.perf_counter()
        r = await (c.post(path, json=body) if body is not None else c.get(path))
        ms = (time.perf_counter() - t) * 1000
        r.raise_for_status()
        r.json()
        return ms

    async def client(c: httpx.AsyncClient) -> list[float]:
        return [await one(c) for _ in range(PER_CLIENT)]

    clients = [httpx.AsyncClient(base_url=api, timeout=120) for _ in range(CLIENTS)]
    try:
        await asyncio.gather(*(one(c) for c in clients))
        t0 = time.perf_counter()
        results = await asyncio.gather(*(client(c) for c in clients))
        return [x for r in results for x in r], time.perf_counter() - t0
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def main() -> int:
    torch.set_num_threads(1)
    shared = Path(os.environ.get("COINCAST_SHARED_DIR", Path(__file__).parents[2] / "shared"))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), shared_dir=shared)  # type: ignore[call-arg]
        frame = history(settings)
        MarketCache(settings).upsert_history("bitcoin", frame, source="csv")
        print(f"python {sys.version.split()[0]}, torch {torch.__version__}, "
              f"{os.cpu_count()} CPUs, bitcoin history {len(frame)} days")  # fmt: skip
        with serve(settings) as api:
            transfer(api)
            forecast_load(api, settings, frame)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
