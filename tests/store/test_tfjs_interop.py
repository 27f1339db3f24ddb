"""Real TensorFlow.js (Node, npm @tensorflow/tfjs 4.22) against coincast's model format.

TF.js saves through ``tf.io.http`` and loads through ``tf.loadLayersModel(tf.io.http(…))``
with a file-backed fetch (see ``tests/tfjs/interop.js``), so these tests prove the format
and the store without a server; the server's tests repeat the trip over real HTTP.
Max differences are printed (``pytest -s``) for the notes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from coincast.store.tfjs.read import from_tfjs
from coincast.store.tfjs.write import to_tfjs

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "tfjs" / "interop.js"
TOLERANCE = 1e-5
WINDOW = 10

# Each test runs Node + TF.js for a few seconds; one worker shares the module fixture.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tfjs-node")]


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (needed to run real TF.js)")
    if not (ROOT / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        pytest.skip("@tensorflow/tfjs is not installed; run `make node`")
    return node


def run_node(*args: str | Path) -> None:
    done = subprocess.run(
        [_node(), str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, f"TF.js failed:\n{done.stderr[-3000:]}"


def write_input(path: Path, features: int, seed: int = 0) -> torch.Tensor:
    x = torch.rand(6, WINDOW, features, generator=torch.Generator().manual_seed(seed))
    path.write_text(json.dumps(x.tolist()))
    return x


def tfjs_predictions(directory: Path) -> tuple[np.ndarray[Any, Any], dict[str, Any]]:
    out = json.loads((directory / "pred.json").read_text())
    return np.asarray(out["pred"], dtype=np.float64), out


def torch_predict(model: LSTMRegressor, x: torch.Tensor) -> np.ndarray[Any, Any]:
    with torch.no_grad():
        out: np.ndarray[Any, Any] = model.eval()(x).double().numpy()
    return out


def save_for_tfjs(directory: Path, model_json: bytes | dict[str, Any], weights: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    raw = model_json if isinstance(model_json, bytes) else json.dumps(model_json).encode()
    (directory / "model.json").write_bytes(raw)
    (directory / "model.weights.bin").write_bytes(weights)


SPECS = {
    "paper": {"units": [50], "features": 2, "dropout": 0.0},
    "deep": {"units": [32, 16], "features": 3, "dropout": 0.2},
}


@pytest.fixture(scope="module", params=sorted(SPECS))
def tfjs_saved(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One model built, trained and uploaded by TF.js, with its own predictions."""
    kind: str = request.param
    spec = {**SPECS[kind], "window": WINDOW, "epochs": 2, "n": 48}
    spec["metadata"] = {"coin": "bitcoin", "window": WINDOW, "metrics": {"mape": 2.5}}
    directory = tmp_path_factory.mktemp(f"tfjs-{kind}")
    (directory / "spec.json").write_text(json.dumps(spec))
    x = write_input(directory / "input.json", int(spec["features"]))  # type: ignore[call-overload]
    run_node("train-save", directory, directory / "spec.json", directory / "input.json")
    return kind, spec, directory, x


def test_tfjs_trained_model_predicts_the_same_in_python(tfjs_saved: Any) -> None:
    kind, spec, directory, x = tfjs_saved
    pred_js, out = tfjs_predictions(directory)
    assert out["loss"][-1] < out["loss"][0]  # TF.js really trained it
    upload = json.loads((directory / "upload.json").read_text())
    assert upload["method"] == "POST"
    raw = json.loads((directory / "model.json").read_text())
    # What tfjs 4.22 really uploads: "./" manifest path, layer names like lstm_LSTM1.
    (group,) = raw["weightsManifest"]
    assert group["paths"] == ["./model.weights.bin"]
    assert all(w["name"].split("/")[0].startswith(("lstm_", "dense_")) for w in group["weights"])
    model, window, meta = from_tfjs(
        (directory / "model.json").read_bytes(), (directory / "model.weights.bin").read_bytes()
    )
    assert window == WINDOW and meta == spec["metadata"]
    assert model.config.units == tuple(spec["units"])
    assert model.config.dropout == pytest.approx(spec["dropout"])
    diff = float(np.abs(torch_predict(model, x) - pred_js).max())
    print(f"\n[interop] TF.js-trained {kind} → PyTorch: max abs diff {diff:.3g}")
    assert diff <= TOLERANCE


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_python_model_loads_in_tfjs_and_predicts_the_same(kind: str, tmp_path: Path) -> None:
    spec = SPECS[kind]
    config = ModelConfig(
        n_features=int(spec["features"]),  # type: ignore[call-overload]
        units=tuple(spec["units"]),  # type: ignore[arg-type]
        dropout=float(spec["dropout"]),  # type: ignore[arg-type]
    )
    model = LSTMRegressor(config, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(6)
    with torch.no_grad():  # perturb every parameter, as training would (biases included)
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    meta = {"coin": "ethereum", "window": WINDOW, "scaler": {"min": [0.5], "max": [9.0]}}
    doc, weights = to_tfjs(model, WINDOW, meta)
    save_for_tfjs(tmp_path, doc, weights)
    x = write_input(tmp_path / "input.json", config.n_features, seed=1)
    run_node("predict", tmp_path, tmp_path / "input.json")
    pred_js, out = tfjs_predictions(tmp_path)
    assert out["metadata"] == meta
    expected_layers = (
        ["LSTM", "Dropout"] * len(config.units) if config.dropout else ["LSTM"] * len(config.units)
    )
    assert out["layers"] == [*expected_layers, "Dense"]
    assert [u.rsplit("/", 1)[-1] for u in out["requested"]] == ["model.json", "model.weights.bin"]
    diff = float(np.abs(torch_predict(model, x) - pred_js).max())
    print(f"\n[interop] PyTorch {kind} → TF.js: max abs diff {diff:.3g}")
    assert diff <= TOLERANCE


def test_tfjs_upload_stored_trained_further_and_loaded_back_in_tfjs(
    tfjs_saved: Any, settings: Settings
) -> None:
    """TF.js save → store v1 → Python trains further → v2 (parent 1) → TF.js loads v2."""
    kind, spec, directory, x = tfjs_saved
    registry = ModelRegistry(settings)
    uploaded_json = (directory / "model.json").read_bytes()
    uploaded_weights = (directory / "model.weights.bin").read_bytes()
    v1 = registry.save("alice", f"btc-{kind}", uploaded_json, uploaded_weights)
    assert v1.metrics == {"mape": 2.5}
    stored = registry.get("alice", f"btc-{kind}", 1)
    assert (stored.model_json, stored.weights) == (uploaded_json, uploaded_weights)

    model, window, meta = from_tfjs(stored.model_json, stored.weights)
    torch.set_num_threads(1)
    before = torch_predict(model, x)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    target = torch.sin(x[:, -1, 0])
    model.train()
    for _ in range(5):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), target)
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
    after = torch_predict(model, x)
    assert np.abs(after - before).max() > 1e-4  # the weights really changed

    doc, weights = to_tfjs(model, window, {**meta, "metrics": {"mape": 2.0}})
    v2 = registry.save("alice", f"btc-{kind}", json.dumps(doc).encode(), weights, parent_version=1)
    assert (v2.version, v2.parent_version, v2.metrics) == (2, 1, {"mape": 2.0})

    latest = registry.get("alice", f"btc-{kind}", "latest")
    target_dir = directory / "v2"
    save_for_tfjs(target_dir, latest.model_json, latest.weights)
    (target_dir / "input.json").write_text((directory / "input.json").read_text())
    run_node("predict", target_dir, target_dir / "input.json")
    pred_js, _ = tfjs_predictions(target_dir)
    diff = float(np.abs(after - pred_js).max())
    print(f"\n[interop] TF.js-trained {kind}, trained further in PyTorch → TF.js: {diff:.3g}")
    assert diff <= TOLERANCE
    # v1 is untouched by the new version.
    again = registry.get("alice", f"btc-{kind}", 1)
    assert (again.model_json, again.weights) == (uploaded_json, uploaded_weights)


def test_tfjs_default_hard_sigmoid_is_refused_not_mispredicted(tmp_path: Path) -> None:
    """TF.js's own default recurrent activation (hard sigmoid) has no PyTorch LSTM twin."""
    from coincast.errors import ModelFormatError

    spec = {"units": [4], "features": 2, "dropout": 0.0, "window": WINDOW, "epochs": 1, "n": 16}
    spec["recurrentActivation"] = "hardSigmoid"
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    write_input(tmp_path / "input.json", 2)
    run_node("train-save", tmp_path, tmp_path / "spec.json", tmp_path / "input.json")
    weights = (tmp_path / "model.weights.bin").read_bytes()
    with pytest.raises(ModelFormatError, match="recurrentActivation: 'sigmoid'"):
        from_tfjs((tmp_path / "model.json").read_bytes(), weights)
