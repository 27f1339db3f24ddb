"""Server-side training jobs (progress, SSE, cancel, train further) and forecasts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import torch

from coincast.data.market.cache import MarketCache
from coincast.settings import Settings
from tests.helpers.histories import sine
from tests.helpers.live_server import LiveServer

COIN = "sinecoin"
JOBS = "/users/local/jobs"
SMALL = {"epochs": 3, "window": 10, "units": [8], "batch_size": 64}


def sine_history(days: int = 320) -> pd.DataFrame:
    """A rising sine (period 2π·9 days) with a wave for volume."""
    volume = 1e6 + 1e4 * np.cos(np.arange(days) / 5.0)
    return sine(
        days, period=2 * np.pi * 9, trend=0.05, volume=volume, cap_ratio=1e7, start="2023-01-01"
    )


@pytest.fixture
def server(live_server: LiveServer) -> Iterator[LiveServer]:
    torch.set_num_threads(1)
    MarketCache(live_server.settings).upsert_history(COIN, sine_history(), source="csv")
    yield live_server


def job_events(c: httpx.Client, job_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
    with c.stream("GET", f"{JOBS}/{job_id}/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        event, data = "message", []
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                yield event, json.loads("\n".join(data))
                event, data = "message", []


def _run(c: httpx.Client, body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    r = c.post(JOBS, json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    # A job that fails at once (no data) may already be finished when the answer is sent.
    assert job["status"] in ("queued", "running", "failed") and job["coin"] == body["coin"]
    epochs, final = [], None
    for event, data in job_events(c, job["id"]):
        if event == "epoch":
            epochs.append(data)
        elif event == "status" and data["status"] in ("succeeded", "failed", "cancelled"):
            final = data
    assert final is not None
    return epochs, final


@pytest.mark.slow
def test_train_stream_forecast_and_train_further(server: LiveServer) -> None:
    with server.client() as c:
        epochs, final = _run(c, {"coin": COIN, "name": "sine", "preset": "paper", "params": SMALL})
        assert final["status"] == "succeeded", final["error"]
        assert [e["epoch"] for e in epochs] == [1, 2, 3]
        assert all(e["epochs"] == 3 and e["loss"] > 0 for e in epochs)
        v1 = final["result"]
        assert (v1["version"], v1["parent_version"], v1["coin"]) == (1, None, COIN)
        assert final["history"] == epochs and final["epoch"] == 3
        assert c.get(f"{JOBS}/{final['id']}").json()["status"] == "succeeded"
        assert [j["id"] for j in c.get(JOBS).json()["jobs"]] == [final["id"]]
        assert "table" in v1["metrics"] and v1["summary"]["naive_rmse"] > 0

        r = c.post("/users/local/models/sine/versions/1/forecast", json={"days": 5})
        assert r.status_code == 200, r.text
        fc = r.json()
        last_day = sine_history().index[-1]
        want_dates = [(last_day + pd.Timedelta(days=k)).date().isoformat() for k in range(1, 6)]
        assert fc["dates"] == want_dates and fc["last_date"] == last_day.date().isoformat()
        assert fc["naive"] == [pytest.approx(sine_history()["price"].iloc[-1])] * 5
        assert fc["disclaimer"].startswith("Forecasts are decision support")
        assert fc["credit"] == "Data provided by CoinGecko"
        assert "naive guess" in fc["skill_summary"]
        for lo, mid, hi in zip(fc["lower"], fc["forecast"], fc["upper"], strict=True):
            assert lo is None or hi is None or lo <= mid <= hi
        assert fc == _python_forecast(server.settings, fc, days=5)

        epochs2, final2 = _run(
            c,
            {"coin": COIN, "name": "sine", "params": {"epochs": 2}, "parent_version": 1},
        )
        assert final2["status"] == "succeeded", final2["error"]
        assert len(epochs2) == 2
        v2 = final2["result"]
        assert (v2["version"], v2["parent_version"]) == (2, 1)
        w1 = c.get("/users/local/models/sine/versions/1/model.weights.bin").content
        w2 = c.get("/users/local/models/sine/versions/2/model.weights.bin").content
        assert len(w1) == len(w2) and w1 != w2


def _python_forecast(settings: Settings, served: dict[str, Any], days: int) -> dict[str, Any]:
    """The same forecast computed in-process from the stored files."""
    from coincast.api import Forecaster, load_history
    from coincast.store.registry import ModelRegistry
    from coincast.store.tfjs.read import from_tfjs

    stored = ModelRegistry(settings).get("local", "sine", 1)
    model, _, meta = from_tfjs(stored.model_json, stored.weights)
    frame = Forecaster.from_model(model, meta).forecast(days, history=load_history(COIN, settings))
    return {
        **served,
        "forecast": [float(v) for v in frame["forecast"]],
        "naive": [float(v) for v in frame["naive"]],
    }


def test_cancel_stops_a_job_and_saves_nothing(server: LiveServer) -> None:
    with server.client() as c:
        # patience 0: the job never stops early, so only the cancel ends it before 1000
        params = {**SMALL, "epochs": 1000, "patience": 0}
        body = {"coin": COIN, "name": "long", "params": params}
        job = c.post(JOBS, json=body).json()
        for event, _data in job_events(c, job["id"]):
            if event == "epoch":
                break
        r = c.post(f"{JOBS}/{job['id']}/cancel")
        assert r.status_code == 200
        deadline = time.monotonic() + 60
        while (state := c.get(f"{JOBS}/{job['id']}").json())["status"] == "running":
            assert time.monotonic() < deadline, "cancel did not stop the job"
            time.sleep(0.05)
        assert state["status"] == "cancelled" and state["result"] is None
        assert 1 <= state["epoch"] < 1000
        assert c.get("/users/local/models").json()["models"] == []


def test_job_errors_are_reported(server: LiveServer) -> None:
    with server.client() as c:
        _, final = _run(c, {"coin": "nocoin", "name": "x", "params": SMALL})
        assert final["status"] == "failed"
        assert "nocoin" in final["error"] and "coincast data" in final["error"]
        bad = c.post(JOBS, json={"coin": COIN, "name": "x", "params": {"epochz": 3}})
        assert bad.status_code == 422 and "epochz" in bad.json()["error"]["message"]
        assert c.post(JOBS, json={"coin": COIN, "name": "../x"}).status_code == 400
        parent = c.post(JOBS, json={"coin": COIN, "name": "none", "parent_version": 1})
        assert parent.status_code == 404
        assert c.get(f"{JOBS}/not-a-job").status_code == 404
        assert c.get(f"{JOBS}/not-a-job/events").status_code == 404
        r = c.post("/users/local/models/none/versions/1/forecast", json={"days": 3})
        assert r.status_code == 404
        r = c.post("/users/local/models/none/versions/1/forecast", json={"days": 0})
        assert r.status_code == 422 and "days" in r.json()["error"]["message"]
