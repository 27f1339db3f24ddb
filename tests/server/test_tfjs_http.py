"""Real TF.js in Node against the live server: save via tf.io.http, load via
tf.loadLayersModel, and a TF.js model trained further in Python as a new version."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch

from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.model.schedule import TrainConfig
from coincast.model.train import train_model
from coincast.store.tfjs.read import from_tfjs
from coincast.store.tfjs.write import to_tfjs
from tests.helpers.live_server import LiveServer, multipart

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tfjs-node")]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "tfjs" / "http_roundtrip.js"
TOL = 1e-5


def _node(*args: str | Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (needed to run real TF.js)")
    if not (ROOT / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        pytest.skip("@tensorflow/tfjs is not installed; run `make node`")
    done = subprocess.run(
        [node, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _input(tmp: Path, n: int = 6, window: int = 30) -> np.ndarray[Any, np.dtype[np.float32]]:
    rng = np.random.default_rng(7)
    x = rng.uniform(0.0, 1.0, size=(n, window, 2)).astype(np.float32)
    (tmp / "input.json").write_text(json.dumps(x.tolist()))
    return x


def _predict(
    model: LSTMRegressor, x: np.ndarray[Any, np.dtype[np.float32]]
) -> np.ndarray[Any, Any]:
    with torch.no_grad():
        return model.eval()(torch.from_numpy(x)).numpy().astype(np.float64)


def _fetch(c: httpx.Client, base: str) -> tuple[LSTMRegressor, int, dict[str, Any]]:
    mj = c.get(f"{base}/model.json")
    w = c.get(f"{base}/model.weights.bin")
    assert mj.status_code == w.status_code == 200
    return from_tfjs(mj.content, w.content)


def test_tfjs_saves_python_loads_trains_further_tfjs_loads(
    live_server: LiveServer, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    token = live_server.add_user("alice")
    x = _input(tmp_path)
    models = f"{live_server.api}/users/alice/models"

    # (1) TF.js trains the paper model and saves it to the server over HTTP.
    _node("save", f"{models}/js-paper", token, tmp_path / "input.json", tmp_path / "js.json")
    js = json.loads((tmp_path / "js.json").read_text())
    assert js["status"] == 201 and js["body"]["version"] == 1
    with live_server.client(token) as c:
        model, window, meta = _fetch(c, "/users/alice/models/js-paper/versions/1")
        assert window == 30 and meta["coin"] == "sinecoin"
        assert model.config == ModelConfig(n_features=2, units=(50,))
        diff_save = float(np.max(np.abs(_predict(model, x) - np.asarray(js["pred"]))))
        print(f"TF.js save → Python load: max |Δ| = {diff_save:.2e}")
        assert diff_save <= TOL

        # (3) Trained further in Python, stored as v2 with its parent recorded.
        before = _predict(model, x)
        xs = torch.rand(64, window, 2, generator=torch.Generator().manual_seed(1))
        ys = xs[:, -1, 0]
        train_model(model.train(), xs, ys, config=TrainConfig(epochs=3, batch_size=16))
        after = _predict(model, x)
        assert np.max(np.abs(after - before)) > 1e-4  # training changed the function
        doc, weights = to_tfjs(model, window, {**meta, "trained_further_in": "python"})
        r = c.post(
            "/users/alice/models/js-paper",
            params={"parent": 1},
            files=multipart(json.dumps(doc).encode(), weights),
        )
        assert r.status_code == 201, r.text
        assert (r.json()["version"], r.json()["parent_version"]) == (2, 1)

    # (2) TF.js loads the Python-trained version and predicts the same numbers.
    url = f"{models}/js-paper/versions/latest/model.json"
    _node("load", url, token, tmp_path / "input.json", tmp_path / "load.json")
    loaded = json.loads((tmp_path / "load.json").read_text())
    assert loaded["metadata"]["trained_further_in"] == "python"
    diff_load = float(np.max(np.abs(after - np.asarray(loaded["pred"]))))
    print(f"Python upload → TF.js load: max |Δ| = {diff_load:.2e}")
    assert diff_load <= TOL


def test_python_paper_model_uploaded_loads_in_tfjs(live_server: LiveServer, tmp_path: Path) -> None:
    x = _input(tmp_path)
    model = LSTMRegressor(ModelConfig(), generator=torch.Generator().manual_seed(3))
    doc, weights = to_tfjs(model, 30, {"coin": "bitcoin"})
    with live_server.client() as c:  # local single-user mode: no token
        r = c.put(
            "/users/local/models/py-paper", files=multipart(json.dumps(doc).encode(), weights)
        )
        assert r.status_code == 201
    url = f"{live_server.api}/users/local/models/py-paper/versions/1/model.json"
    _node("load", url, "-", tmp_path / "input.json", tmp_path / "load.json")
    pred = np.asarray(json.loads((tmp_path / "load.json").read_text())["pred"])
    diff = float(np.max(np.abs(_predict(model, x) - pred)))
    print(f"Python paper model → TF.js over HTTP: max |Δ| = {diff:.2e}")
    assert diff <= TOL


def test_tfjs_save_with_a_wrong_token_fails_and_stores_nothing(
    live_server: LiveServer, tmp_path: Path
) -> None:
    live_server.add_user("alice")
    _input(tmp_path)
    url = f"{live_server.api}/users/alice/models/m"
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    done = subprocess.run(
        [node, str(SCRIPT), "save", url, "cc_wrong", tmp_path / "input.json", tmp_path / "o.json"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert done.returncode != 0  # any non-2xx makes model.save throw
    assert "401" in done.stderr
    assert live_server.app.state.services.registry.list_models("alice") == []
