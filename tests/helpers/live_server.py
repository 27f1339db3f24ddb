"""The real app in a real uvicorn server on 127.0.0.1:0, in a thread (httpx's
``serve_in_thread`` pattern): tests speak HTTP over loopback exactly as clients do.

Use the ``live_server`` fixture (fresh temp data dir per test, local single-user mode
since it binds to loopback and has no users), or ``serve(settings)`` for other settings
(a fake CoinGecko, small size limits).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from coincast.server.app import create_app
from coincast.settings import Settings

__all__ = ["LiveServer", "serve", "live_server", "API"]

API = "/api/v1"


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:PORT
    settings: Settings
    app: FastAPI

    @property
    def api(self) -> str:
        return self.url + API

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.api, headers=headers, timeout=60.0, **kwargs)

    def add_user(self, name: str) -> str:
        """Create a user in this server's store (as `coincast users add` does); the token."""
        _user, token = self.app.state.services.users.add(name)
        return str(token)


@contextlib.contextmanager
def serve(settings: Settings, *, loopback: bool = True) -> Iterator[LiveServer]:
    app = create_app(settings, loopback=loopback)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", settings=settings, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    with serve(settings) as server:
        yield server


def model_files(
    seed: int = 0, window: int = 30, meta: dict[str, Any] | None = None, units: int = 8
) -> tuple[bytes, bytes]:
    """A small valid TF.js model (model.json bytes, weights bytes), distinct per seed."""
    import json

    import torch

    from coincast.model.lstm import LSTMRegressor, ModelConfig
    from coincast.store.tfjs.write import to_tfjs

    model = LSTMRegressor(
        ModelConfig(n_features=2, units=(units,)), generator=torch.Generator().manual_seed(seed)
    )
    doc, weights = to_tfjs(model, window, {"coin": "bitcoin", **(meta or {})})
    return json.dumps(doc).encode(), weights


def multipart(
    model_json: bytes, weights: bytes | None, *, dotted: bool = True
) -> dict[str, tuple[str, bytes, str]]:
    """The form TF.js's tf.io.http sends (or the underscore spelling some stacks use)."""
    j, w = ("model.json", "model.weights.bin") if dotted else ("model_json", "model_weights_bin")
    files = {j: ("model.json", model_json, "application/json")}
    if weights is not None:
        files[w] = ("model.weights.bin", weights, "application/octet-stream")
    return files
