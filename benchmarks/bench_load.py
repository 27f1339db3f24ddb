"""Load: 2 coincast server processes on one PostgreSQL + one S3 bucket, N concurrent
clients mixing upload, list, download and forecast for a fixed time.

Prints throughput, p50/p99 per route and the error count, then checks consistency:
every acknowledged upload is present and byte-identical (read back through the *other*
server), and version numbers are unique and gap-free per model.

    python benchmarks/bench_load.py [--clients 50] [--seconds 30]

PostgreSQL and the S3 server come from ``scripts/services.sh up`` (run here if
COINCAST_TEST_PG_URL / COINCAST_TEST_S3_ENDPOINT are not set).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psycopg
import torch
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import SHARED_DIR  # noqa: E402
from tests.integration.conftest import scaled_settings, settings_env  # noqa: E402
from tests.integration.procs import ServerProcess, start_server  # noqa: E402

from coincast.api import Forecaster  # noqa: E402
from coincast.model.lstm import LSTMRegressor, ModelConfig  # noqa: E402
from coincast.server.users import UserStore  # noqa: E402
from coincast.settings import Settings  # noqa: E402
from coincast.store.registry import ModelRegistry  # noqa: E402
from coincast.store.tfjs.write import to_tfjs  # noqa: E402

USERS = 10
ROUTES = ("upload", "list models", "list versions", "download", "forecast")
WEIGHTS = (0.25, 0.125, 0.125, 0.25, 0.25)


def services_env() -> dict[str, str]:
    if os.environ.get("COINCAST_TEST_PG_URL") and os.environ.get("COINCAST_TEST_S3_ENDPOINT"):
        return dict(os.environ)
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "services.sh"), "up"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    env = dict(os.environ)
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value
    return env


def fresh_database(admin_url: str) -> tuple[str, str]:
    admin = make_url(admin_url)
    name = f"cc_load_{uuid.uuid4().hex[:10]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.set(database=name).render_as_string(hide_password=False), dsn


def history() -> pd.DataFrame:
    csv = SHARED_DIR / "data" / "daily" / "bitcoin.csv"
    if csv.is_file():
        frame = pd.read_csv(csv, parse_dates=["date"], index_col="date")
        return frame.loc[:, ["price", "volume", "market_cap"]].astype("float64")
    t = np.arange(1500, dtype=np.float64)
    index = pd.date_range("2020-01-01", periods=t.size, freq="D", name="date")
    price = 30000 + 5000 * np.sin(t / 40) + 5 * t
    return pd.DataFrame({"price": price, "volume": 1e9 + 0 * t, "market_cap": price * 2e7}, index)


def payloads(n: int) -> list[tuple[bytes, bytes]]:
    """Distinct paper-sized models (50 units) to upload."""
    out = []
    for seed in range(n):
        model = LSTMRegressor(ModelConfig(), generator=torch.Generator().manual_seed(seed))
        doc, weights = to_tfjs(model, 30, {"coin": "bitcoin", "seed": seed})
        out.append((json.dumps(doc).encode(), weights))
    return out


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: dict[str, str] = field(default_factory=dict)
    acknowledged: list[tuple[str, str, int, str, str]] = field(default_factory=list)


def client_loop(
    k: int,
    servers: list[ServerProcess],
    tokens: dict[str, str],
    files: list[tuple[bytes, bytes]],
    stats: Stats,
    deadline: float,
) -> None:
    rng = random.Random(k)
    user = f"u{k % USERS:02d}"
    headers = {"Authorization": f"Bearer {tokens[user]}"}
    clients = [httpx.Client(base_url=s.api, headers=headers, timeout=120) for s in servers]
    try:
        while time.monotonic() < deadline:
            route = rng.choices(ROUTES, WEIGHTS)[0]
            client = clients[rng.randrange(len(clients))]
            model = f"m{rng.randrange(2)}"
            t0 = time.perf_counter()
            try:
                ok, detail = _one(route, client, user, model, files, rng, stats)
            except httpx.HTTPError as exc:
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            ms = (time.perf_counter() - t0) * 1000
            with stats.lock:
                stats.latency[route].append(ms)
                if not ok:
                    stats.errors[route] += 1
                    stats.samples.setdefault(route, detail)
    finally:
        for c in clients:
            c.close()


def _one(
    route: str,
    client: httpx.Client,
    user: str,
    model: str,
    files: list[tuple[bytes, bytes]],
    rng: random.Random,
    stats: Stats,
) -> tuple[bool, str]:
    if route == "upload":
        j, w = files[rng.randrange(len(files))]
        r = client.post(
            f"/users/{user}/models/{model}",
            files={
                "model.json": ("model.json", j, "application/json"),
                "model.weights.bin": ("model.weights.bin", w, "application/octet-stream"),
            },
        )
        if r.status_code == 201:
            with stats.lock:
                stats.acknowledged.append(
                    (
                        user,
                        model,
                        int(r.json()["version"]),
                        hashlib.sha256(j).hexdigest(),
                        hashlib.sha256(w).hexdigest(),
                    )
                )
        return r.status_code == 201, f"{r.status_code} {r.text[:200]}"
    if route == "list models":
        r = client.get(f"/users/{user}/models")
        return r.status_code == 200, f"{r.status_code} {r.text[:200]}"
    if route == "list versions":
        r = client.get(f"/users/{user}/models/fc/versions")
        return r.status_code == 200, f"{r.status_code} {r.text[:200]}"
    if route == "download":
        name = rng.choice(["fc", model])
        base = f"/users/{user}/models/{name}/versions/latest"
        a = client.get(f"{base}/model.json")
        if a.status_code == 404 and name != "fc":  # nothing uploaded to it yet
            return True, ""
        b = client.get(f"{base}/model.weights.bin")
        return a.status_code == b.status_code == 200, f"{a.status_code}/{b.status_code}"
    r = client.post(f"/users/{user}/models/fc/versions/latest/forecast", json={"days": 7})
    return r.status_code == 200, f"{r.status_code} {r.text[:200]}"


def consistency(servers: list[ServerProcess], tokens: dict[str, str], stats: Stats) -> list[str]:
    """Read everything back through the other server than the one that probably wrote it."""
    problems: list[str] = []
    by_model: dict[tuple[str, str], list[tuple[int, str, str]]] = defaultdict(list)
    for user, model, version, js, ws in stats.acknowledged:
        by_model[(user, model)].append((version, js, ws))
    for (user, model), acks in sorted(by_model.items()):
        numbers = [v for v, _, _ in acks]
        if len(set(numbers)) != len(numbers):
            problems.append(f"{user}/{model}: a version number was acknowledged twice")
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        with httpx.Client(base_url=servers[1].api, headers=headers, timeout=120) as c:
            listed = [
                v["version"]
                for v in c.get(f"/users/{user}/models/{model}/versions").json()["versions"]
            ]
            if listed != list(range(1, len(listed) + 1)):
                problems.append(f"{user}/{model}: versions not gap-free: {listed}")
            if sorted(numbers) != listed:
                problems.append(
                    f"{user}/{model}: acknowledged {sorted(numbers)} != stored {listed}"
                )
            for version, js, ws in acks:
                base = f"/users/{user}/models/{model}/versions/{version}"
                j = c.get(f"{base}/model.json").content
                w = c.get(f"{base}/model.weights.bin").content
                if hashlib.sha256(j).hexdigest() != js or hashlib.sha256(w).hexdigest() != ws:
                    problems.append(f"{user}/{model} v{version}: bytes differ from the upload")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--servers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    env = services_env()
    db_url, admin_dsn = fresh_database(env["COINCAST_TEST_PG_URL"])
    bucket = f"cc-load-{uuid.uuid4().hex[:12]}"
    servers: list[ServerProcess] = []
    with tempfile.TemporaryDirectory(prefix="cc-load-") as tmp:
        settings: Settings = scaled_settings(
            Path(tmp) / "data", db_url, env["COINCAST_TEST_S3_ENDPOINT"], bucket
        )
        t0 = time.perf_counter()
        fc = Forecaster("paper", epochs=1).fit(history(), coin="bitcoin")
        assert fc.model is not None and fc.spec is not None
        doc, weights = to_tfjs(fc.model, fc.spec.window, fc.metadata())
        registry = ModelRegistry(settings)
        users = UserStore(settings)
        tokens = {}
        for i in range(USERS):
            name = f"u{i:02d}"
            tokens[name] = users.add(name)[1]
            registry.save(name, "fc", json.dumps(doc).encode(), weights)
        files = payloads(8)
        print(f"setup (train 1 epoch, {USERS} users, payloads) {time.perf_counter() - t0:.1f} s")
        print(f"upload payload: model.json {len(files[0][0])} B + weights {len(files[0][1])} B")
        server_env = {**settings_env(settings), "COINCAST_TORCH_THREADS": "1"}
        try:
            servers = [start_server(server_env) for _ in range(args.servers)]
            stats = Stats()
            deadline = time.monotonic() + args.seconds
            threads = [
                threading.Thread(
                    target=client_loop, args=(k, servers, tokens, files, stats, deadline)
                )
                for k in range(args.clients)
            ]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - start
            total = sum(len(v) for v in stats.latency.values())
            errors = sum(stats.errors.values())
            print(
                f"\n{args.servers} server processes, {args.clients} clients, {wall:.1f} s: "
                f"{total} requests, {total / wall:.1f} req/s, errors {errors}"
            )
            print(f"{'route':<15}{'n':>7}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
            for route in ROUTES:
                ms = stats.latency.get(route, [])
                if ms:
                    p50, p99 = np.percentile(ms, [50, 99])
                    print(
                        f"{route:<15}{len(ms):>7}{p50:>10.1f}{p99:>10.1f}{stats.errors[route]:>8}"
                    )
            for route, detail in stats.samples.items():
                print(f"  first {route} error: {detail}")
            problems = consistency(servers, tokens, stats)
            print(
                f"\nconsistency: {len(stats.acknowledged)} acknowledged uploads re-read via "
                f"the other server: {'OK' if not problems else f'{len(problems)} problems'}"
            )
            for p in problems[:20]:
                print("  " + p)
        finally:
            for s in servers:
                s.stop()
            from coincast.db import engine as db

            for engine in db._engines.values():
                engine.dispose()
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{make_url(db_url).database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
