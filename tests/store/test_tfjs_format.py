"""model.json + weights ⇄ LSTMRegressor: round trips, the exact layout, every bad input."""

from __future__ import annotations

import copy
import json
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from coincast.errors import ModelFormatError
from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.server.error_status import status_for
from coincast.store.tfjs.read import from_tfjs
from coincast.store.tfjs.write import to_tfjs

PAPER = ModelConfig(n_features=2, units=(50,), dropout=0.0)
DEEP = ModelConfig(n_features=3, units=(32, 16), dropout=0.2)


def trained_like(config: ModelConfig, seed: int = 0) -> LSTMRegressor:
    """A model with every parameter non-trivial (biases included), as after training."""
    model = LSTMRegressor(config, generator=torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


def export(config: ModelConfig = PAPER, window: int = 30) -> tuple[dict[str, Any], bytes]:
    return to_tfjs(trained_like(config), window, {"coin": "bitcoin", "window": window})


@pytest.mark.parametrize("config", [PAPER, DEEP], ids=["paper", "deep"])
def test_round_trip_predicts_the_same(config: ModelConfig) -> None:
    model = trained_like(config)
    meta = {"coin": "bitcoin", "features": ["price", "volume"], "scaler": {"min": [1.0]}}
    doc, weights = to_tfjs(model, 30, meta)
    back, window, back_meta = from_tfjs(json.dumps(doc).encode(), weights)
    assert window == 30 and back_meta == meta
    assert back.config == config
    assert not back.training
    x = torch.randn(8, 30, config.n_features, generator=torch.Generator().manual_seed(3))
    diff = (model(x) - back(x)).abs().max().item()
    assert diff <= 1e-6, diff
    # Export of the re-imported model gives the same files (bias split is irrelevant).
    doc2, weights2 = to_tfjs(back, 30, meta)
    assert doc2 == doc
    np.testing.assert_allclose(
        np.frombuffer(weights2, "<f4"), np.frombuffer(weights, "<f4"), atol=1e-7
    )


def test_layout_matches_tfjs_layers() -> None:
    model = trained_like(DEEP)
    doc, weights = to_tfjs(model, 14, {"window": 14})
    assert doc["format"] == "layers-model"
    assert doc["generatedBy"].startswith("coincast ")
    assert "convertedBy" in doc
    topo = doc["modelTopology"]
    assert topo["class_name"] == "Sequential"
    assert topo["keras_version"].startswith("tfjs-layers") and topo["backend"] == "tensor_flow.js"
    layers = topo["config"]["layers"]
    assert [la["class_name"] for la in layers] == ["LSTM", "Dropout", "LSTM", "Dropout", "Dense"]
    first, second = layers[0]["config"], layers[2]["config"]
    assert first["batch_input_shape"] == [None, 14, 3]
    assert "batch_input_shape" not in second
    assert first["recurrent_activation"] == second["recurrent_activation"] == "sigmoid"
    assert (first["return_sequences"], second["return_sequences"]) == (True, False)
    assert layers[1]["config"]["rate"] == pytest.approx(0.2)
    (group,) = doc["weightsManifest"]
    assert group["paths"] == ["model.weights.bin"]
    specs = [(w["name"], w["shape"], w["dtype"]) for w in group["weights"]]
    assert specs == [
        ("lstm_1/kernel", [3, 128], "float32"),
        ("lstm_1/recurrent_kernel", [32, 128], "float32"),
        ("lstm_1/bias", [128], "float32"),
        ("lstm_2/kernel", [32, 64], "float32"),
        ("lstm_2/recurrent_kernel", [16, 64], "float32"),
        ("lstm_2/bias", [64], "float32"),
        ("dense_1/kernel", [16, 1], "float32"),
        ("dense_1/bias", [1], "float32"),
    ]
    assert len(weights) == 4 * sum(int(np.prod(s)) for _, s, _ in specs)
    # Values are laid out in manifest order, little-endian, with the PyTorch mapping.
    w_ih, _, b_ih, b_hh = model.lstm_layers()[0].all_weights[0]
    kernel = np.frombuffer(weights, "<f4", count=3 * 128).reshape(3, 128)
    np.testing.assert_array_equal(kernel, w_ih.detach().numpy().T)
    start = 4 * (3 * 128 + 32 * 128)
    bias = np.frombuffer(weights[start : start + 4 * 128], "<f4")
    expected = (b_ih + b_hh).detach().numpy()
    np.testing.assert_array_equal(bias, expected)
    json.dumps(doc, allow_nan=False)  # strict JSON, parseable by JSON.parse


def test_non_finite_metadata_becomes_null_and_bad_metadata_is_refused() -> None:
    doc, _ = to_tfjs(trained_like(PAPER), 5, {"metrics": {"mape": float("nan"), "mae": 2.0}})
    assert doc["userDefinedMetadata"] == {"metrics": {"mape": None, "mae": 2.0}}
    with pytest.raises(ModelFormatError, match="JSON"):
        to_tfjs(trained_like(PAPER), 5, {"x": object()})
    with pytest.raises(ModelFormatError, match="window"):
        to_tfjs(trained_like(PAPER), 5, {"window": 7})
    with pytest.raises(ModelFormatError, match="window"):
        to_tfjs(trained_like(PAPER), 0, {})


def test_reading_leaves_inputs_and_global_rng_alone() -> None:
    doc, weights = export()
    original = copy.deepcopy(doc)
    state = torch.get_rng_state()
    from_tfjs(doc, weights)
    assert torch.equal(state, torch.get_rng_state())
    assert doc == original


def test_keras_variants_are_accepted() -> None:
    """InputLayer first, nested model_config, cell-scoped weight names, window in metadata."""
    doc, weights = export(DEEP, window=12)
    topo = doc["modelTopology"]
    layers = topo["config"]["layers"]
    del layers[0]["config"]["batch_input_shape"]
    layers.insert(0, {"class_name": "InputLayer", "config": {"batch_shape": [None, None, 3]}})
    for spec in doc["weightsManifest"][0]["weights"]:
        layer, kind = spec["name"].split("/")
        if layer.startswith("lstm"):
            spec["name"] = f"{layer}/lstm_cell/{kind}"
    doc["modelTopology"] = {"model_config": topo, "keras_version": "2.15.0"}
    model, window, _ = from_tfjs(json.dumps(doc).encode(), weights)
    assert window == 12 and model.config == DEEP


def test_old_keras_layer_list_config_is_accepted() -> None:
    """Keras 2.0-era files give ``config`` as the bare list of layers."""
    doc, weights = export(PAPER, window=9)
    doc["modelTopology"]["config"] = doc["modelTopology"]["config"]["layers"]
    model, window, _ = from_tfjs(doc, weights)
    assert window == 9 and model.config == PAPER


Mutation = Callable[[dict[str, Any], bytes], tuple[Any, bytes]]


def _layers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = doc["modelTopology"]["config"]["layers"]
    return layers


def _specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = doc["weightsManifest"][0]["weights"]
    return specs


def _with(change: Callable[[dict[str, Any]], Any]) -> Mutation:
    def mutate(doc: dict[str, Any], weights: bytes) -> tuple[Any, bytes]:
        change(doc)
        return json.dumps(doc).encode(), weights

    return mutate


def _nan_weight(doc: dict[str, Any], weights: bytes) -> tuple[Any, bytes]:
    buf = bytearray(weights)
    buf[40:44] = struct.pack("<f", float("nan"))
    return json.dumps(doc).encode(), bytes(buf)


def _inf_weight(doc: dict[str, Any], weights: bytes) -> tuple[Any, bytes]:
    buf = bytearray(weights)
    buf[-4:] = struct.pack("<f", float("inf"))
    return json.dumps(doc).encode(), bytes(buf)


BAD: dict[str, tuple[Mutation, str]] = {
    "non-json": (lambda d, w: (b"<html>not json</html>", w), "not valid JSON"),
    "not-utf8": (lambda d, w: (b"\xff\xfe{}", w), "not valid JSON"),
    "json-array": (lambda d, w: (b"[1, 2]", w), "JSON object"),
    "nan-token": (lambda d, w: (b'{"modelTopology": NaN}', w), "not valid JSON"),
    "no-topology": (_with(lambda d: d.pop("modelTopology")), "no modelTopology"),
    "no-manifest": (_with(lambda d: d.pop("weightsManifest")), "weightsManifest"),
    "truncated": (lambda d, w: (json.dumps(d).encode(), w[:-10]), "truncated"),
    "extra-bytes": (lambda d, w: (json.dumps(d).encode(), w + b"\0" * 4), "bytes"),
    "empty-weights": (lambda d, w: (json.dumps(d).encode(), b""), "truncated"),
    "nan-weight": (_nan_weight, "NaN or infinite"),
    "inf-weight": (_inf_weight, "NaN or infinite"),
    "wrong-shape": (_with(lambda d: _specs(d)[0].update(shape=[2, 199])), "needs \\[2, 200\\]"),
    "huge-shape": (
        _with(lambda d: _specs(d)[0].update(shape=[2**40, 2**40])),
        "has shape",
    ),
    "string-shape": (_with(lambda d: _specs(d)[2].update(shape="200")), "has shape"),
    "huge-units": (
        _with(lambda d: _layers(d)[0]["config"].update(units=10**9)),
        "units must be an integer",
    ),
    "huge-window": (
        _with(lambda d: _layers(d)[0]["config"].update(batch_input_shape=[None, 10**9, 2])),
        "window must be",
    ),
    "unknown-layer": (
        _with(lambda d: _layers(d).insert(1, {"class_name": "Lambda", "config": {"name": "x"}})),
        "'Lambda'",
    ),
    "gru": (_with(lambda d: _layers(d)[0].update(class_name="GRU")), "'GRU'"),
    "functional": (
        _with(lambda d: d["modelTopology"].update(class_name="Functional")),
        "only Sequential",
    ),
    "graph-model": (_with(lambda d: d.update(format="graph-model")), "layers-model"),
    "hard-sigmoid": (
        _with(lambda d: _layers(d)[0]["config"].pop("recurrent_activation")),
        "hard_sigmoid",
    ),
    "relu-lstm": (
        _with(lambda d: _layers(d)[0]["config"].update(activation="relu")),
        "'relu'",
    ),
    "returns-sequences": (
        _with(lambda d: _layers(d)[0]["config"].update(return_sequences=True)),
        "return_sequences=false",
    ),
    "go-backwards": (
        _with(lambda d: _layers(d)[0]["config"].update(go_backwards=True)),
        "go_backwards",
    ),
    "dense-2": (
        _with(lambda d: _layers(d)[-1]["config"].update(units=2)),
        "Dense\\(units=1",
    ),
    "dense-sigmoid": (
        _with(lambda d: _layers(d)[-1]["config"].update(activation="sigmoid")),
        "Dense\\(units=1",
    ),
    "no-dense": (_with(lambda d: _layers(d).pop()), "followed by one Dense"),
    "no-bias": (
        _with(lambda d: _layers(d)[0]["config"].update(use_bias=False)),
        "use_bias",
    ),
    "missing-weight": (_with(lambda d: _specs(d).pop(2)), "lacks lstm_1/bias"),
    "duplicate-weight": (
        _with(lambda d: _specs(d).append(dict(_specs(d)[-1]))),
        "appears twice",
    ),
    "foreign-weight": (
        _with(lambda d: _specs(d)[0].update(name="other/kernel")),
        "does not belong",
    ),
    "float16": (_with(lambda d: _specs(d)[0].update(dtype="float16")), "float32"),
    "quantized": (
        _with(lambda d: _specs(d)[0].update(quantization={"dtype": "uint8"})),
        "quantized",
    ),
    "no-input-shape": (
        _with(lambda d: _layers(d)[0]["config"].pop("batch_input_shape")),
        "batch_input_shape",
    ),
    "window-disagrees": (
        _with(lambda d: d["userDefinedMetadata"].update(window=99)),
        "must agree",
    ),
    "no-window": (
        _with(
            lambda d: (
                _layers(d)[0]["config"].update(batch_input_shape=[None, None, 2]),
                d["userDefinedMetadata"].pop("window"),
            )
        ),
        "no window length",
    ),
    "bad-metadata": (_with(lambda d: d.update(userDefinedMetadata=[1])), "JSON object"),
    "dropout-rate": (
        _with(
            lambda d: _layers(d).insert(
                1, {"class_name": "Dropout", "config": {"name": "dr", "rate": 1.5}}
            )
        ),
        "rate",
    ),
    "duplicate-layer-name": (
        _with(
            lambda d: _layers(d).insert(
                1, {"class_name": "Dropout", "config": {"name": "lstm_1", "rate": 0.1}}
            )
        ),
        "duplicate",
    ),
    "too-many-layers": (
        _with(
            lambda d: _layers(d).extend(
                {"class_name": "Dropout", "config": {"name": f"d{i}", "rate": 0.1}}
                for i in range(40)
            )
        ),
        "at most",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_clear_model_format_error(case: str) -> None:
    mutate, message = BAD[case]
    doc, weights = export()
    bad_json, bad_weights = mutate(doc, weights)
    with pytest.raises(ModelFormatError, match=message) as info:
        from_tfjs(bad_json, bad_weights)
    assert status_for(type(info.value)) == 400
    assert len(str(info.value)) > 20
