"""Reading the TF.js layers-model format: model.json + weights buffer → ``LSTMRegressor``.

Untrusted input (uploads): JSON only, no code, no pickle. Every weight's name, shape and
dtype is checked against the topology, and the buffer's length and finiteness, before any
tensor is built; anything else is a ``ModelFormatError`` (HTTP 400).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from coincast.errors import ModelFormatError, ParameterError
from coincast.model.lstm import LSTMRegressor, ModelConfig

__all__ = ["MAX_FEATURES", "MAX_LAYERS", "MAX_UNITS", "MAX_WINDOW", "from_tfjs"]

# Far above any sensible price model, low enough that a hostile model.json cannot make
# us allocate gigabytes before the byte-length check.
MAX_UNITS = 4096
MAX_FEATURES = 1024
MAX_WINDOW = 100_000
MAX_LAYERS = 32
_ALLOWED = ("InputLayer", "LSTM", "Dropout", "Dense")


@dataclass
class _Layer:
    kind: str  # "LSTM" | "Dense"
    name: str
    units: int
    inputs: int
    return_sequences: bool = False
    weights: dict[str, np.ndarray[Any, np.dtype[np.float32]]] = field(default_factory=dict)

    def expected(self) -> dict[str, list[int]]:
        if self.kind == "LSTM":
            gates = 4 * self.units
            return {
                "kernel": [self.inputs, gates],
                "recurrent_kernel": [self.units, gates],
                "bias": [gates],
            }
        return {"kernel": [self.inputs, self.units], "bias": [self.units]}


def from_tfjs(
    model_json: dict[str, Any] | bytes, weights: bytes
) -> tuple[LSTMRegressor, int, dict[str, Any]]:
    """Build the PyTorch model from TF.js files: (model in eval mode, window, metadata)."""
    doc = _parse(model_json)
    user_meta = doc.get("userDefinedMetadata", {})
    if user_meta is None:
        user_meta = {}
    if not isinstance(user_meta, dict):
        raise ModelFormatError("userDefinedMetadata must be a JSON object.")
    fmt = doc.get("format", "layers-model")
    if fmt != "layers-model":
        raise ModelFormatError(
            f"model.json has format {fmt!r}; only TF.js layers models ('layers-model') are "
            "supported. Save the model with model.save() from tf.LayersModel."
        )
    n_features, window, layers, dropout = _topology(doc.get("modelTopology"))
    if window is None:
        window = user_meta.get("window")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ModelFormatError(
                "The input shape has no window length and userDefinedMetadata has no 'window'. "
                "Give the first layer batch_input_shape [null, window, features]."
            )
    elif user_meta.get("window") not in (None, window):
        raise ModelFormatError(
            f"The input shape has window {window} but userDefinedMetadata says "
            f"{user_meta['window']!r}; they must agree."
        )
    _read_weights(doc.get("weightsManifest"), weights, layers)
    lstms = [layer for layer in layers if layer.kind == "LSTM"]
    config = ModelConfig(
        n_features=n_features, units=tuple(la.units for la in lstms), dropout=dropout
    )
    # nn.LSTM's constructor draws from the global RNG; loading a model must not shift the
    # caller's random stream (it would change a seeded training run that follows).
    with torch.random.fork_rng(devices=[]):
        model = LSTMRegressor(config, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for layer, torch_lstm in zip(lstms, model.lstm_layers(), strict=True):
            w_ih, w_hh, b_ih, b_hh = torch_lstm.all_weights[0]
            w_ih.copy_(torch.from_numpy(layer.weights["kernel"].T.copy()))
            w_hh.copy_(torch.from_numpy(layer.weights["recurrent_kernel"].T.copy()))
            b_ih.copy_(torch.from_numpy(layer.weights["bias"].copy()))
            b_hh.zero_()
        head = layers[-1]
        model.head.weight.copy_(torch.from_numpy(head.weights["kernel"].T.copy()))
        model.head.bias.copy_(torch.from_numpy(head.weights["bias"].copy()))
    return model.eval(), int(window), user_meta


def _parse(model_json: dict[str, Any] | bytes) -> dict[str, Any]:
    if isinstance(model_json, dict):
        return model_json
    if not isinstance(model_json, bytes | bytearray | memoryview):
        raise ModelFormatError("model.json must be bytes or a parsed JSON object.")

    def reject(token: str) -> Any:
        raise ParameterError(f"{token} is not valid JSON")

    try:
        doc = json.loads(bytes(model_json).decode("utf-8"), parse_constant=reject)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFormatError(
            f"model.json is not valid JSON ({exc}). Upload the file that TF.js model.save() "
            "or coincast wrote, unchanged."
        ) from exc
    if not isinstance(doc, dict):
        raise ModelFormatError("model.json must be a JSON object with a modelTopology.")
    return doc


def _topology(topology: Any) -> tuple[int, int | None, list[_Layer], float]:
    """(features, window or None, LSTM/Dense layers in order, dropout rate)."""
    if not isinstance(topology, dict):
        raise ModelFormatError("model.json has no modelTopology object.")
    if isinstance(topology.get("model_config"), dict):  # Keras-converted files nest it
        topology = topology["model_config"]
    if topology.get("class_name") != "Sequential":
        raise ModelFormatError(
            f"modelTopology is a {topology.get('class_name')!r}; only Sequential models of "
            "LSTM, Dropout and Dense layers are supported."
        )
    config = topology.get("config")
    raw = config.get("layers") if isinstance(config, dict) else config
    if not isinstance(raw, list) or not raw:
        raise ModelFormatError("modelTopology.config has no layers list.")
    if len(raw) > MAX_LAYERS:
        raise ModelFormatError(f"The model has {len(raw)} layers; at most {MAX_LAYERS} allowed.")
    n_features: int | None = None
    window: int | None = None
    layers: list[_Layer] = []
    rates: list[float] = []
    names: set[str] = set()
    for i, entry in enumerate(raw):
        cls = entry.get("class_name") if isinstance(entry, dict) else None
        cfg = entry.get("config") if isinstance(entry, dict) else None
        if cls not in _ALLOWED or not isinstance(cfg, dict):
            raise ModelFormatError(
                f"Layer {i} is {cls!r}; only {', '.join(_ALLOWED)} layers are supported."
            )
        name = cfg.get("name", f"{cls.lower()}_{i}")
        if not isinstance(name, str) or not name or "/" in name or name in names:
            raise ModelFormatError(f"Layer {i} has a missing, duplicate or invalid name.")
        names.add(name)
        shape = cfg.get("batch_input_shape", cfg.get("batch_shape"))
        if i == 0:
            n_features, window = _input_shape(shape)
        elif shape is not None and cls == "InputLayer":
            raise ModelFormatError("An InputLayer may only be the first layer.")
        if cls in ("InputLayer", "Dropout"):
            if cls == "Dropout":
                rate = cfg.get("rate", 0.0)
                if not isinstance(rate, int | float) or not 0 <= rate < 1:
                    raise ModelFormatError(f"Dropout layer {name} has rate {rate!r}; need [0, 1).")
                rates.append(float(rate))
            continue
        inputs = layers[-1].units if layers else n_features
        assert inputs is not None
        if layers and layers[-1].kind == "Dense":
            raise ModelFormatError("The Dense layer must be the last layer.")
        units = _int_in(cfg.get("units"), f"{name}.units", MAX_UNITS)
        if cfg.get("use_bias", True) is not True:
            raise ModelFormatError(f"Layer {name} has use_bias=false; coincast needs biases.")
        if cls == "LSTM":
            _check_lstm(name, cfg)
            seq = bool(cfg.get("return_sequences", False))
            layers.append(_Layer("LSTM", name, units, inputs, return_sequences=seq))
        else:
            if units != 1 or cfg.get("activation", "linear") not in ("linear", None):
                raise ModelFormatError(
                    f"Dense layer {name} must be Dense(units=1, activation='linear'): the "
                    "model predicts one scaled value."
                )
            layers.append(_Layer("Dense", name, units, inputs))
    lstms = [la for la in layers if la.kind == "LSTM"]
    if not lstms or layers[-1].kind != "Dense":
        raise ModelFormatError("The model must be LSTM layer(s) followed by one Dense(1) layer.")
    for layer in lstms[:-1]:
        if not layer.return_sequences:
            raise ModelFormatError(
                f"LSTM {layer.name} feeds another LSTM, so it needs return_sequences=true."
            )
    if lstms[-1].return_sequences:
        raise ModelFormatError(
            f"The last LSTM ({lstms[-1].name}) must have return_sequences=false: the Dense "
            "head predicts from the last step only."
        )
    assert n_features is not None
    return n_features, window, layers, max(rates, default=0.0)


def _check_lstm(name: str, cfg: dict[str, Any]) -> None:
    activation = cfg.get("activation", "tanh")
    recurrent = cfg.get("recurrent_activation", "hard_sigmoid")  # tfjs-layers' default
    if activation != "tanh" or recurrent != "sigmoid":
        raise ModelFormatError(
            f"LSTM {name} uses activation={activation!r}, recurrent_activation={recurrent!r}; "
            "only 'tanh' and 'sigmoid' are supported (in TF.js pass "
            "recurrentActivation: 'sigmoid' when building the layer)."
        )
    for flag in ("go_backwards", "stateful", "return_state", "time_major"):
        if cfg.get(flag):
            raise ModelFormatError(f"LSTM {name} sets {flag}=true, which is not supported.")


def _input_shape(shape: Any) -> tuple[int, int | None]:
    if not isinstance(shape, list) or len(shape) != 3:
        raise ModelFormatError(
            f"The first layer needs batch_input_shape [null, window, features] (got {shape!r})."
        )
    window = None if shape[1] is None else _int_in(shape[1], "window", MAX_WINDOW)
    return _int_in(shape[2], "features", MAX_FEATURES), window


def _int_in(value: Any, what: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise ModelFormatError(f"{what} must be an integer in 1..{limit}, got {value!r}.")
    return value


def _read_weights(manifest: Any, weights: bytes, layers: list[_Layer]) -> None:
    """Match manifest entries to layers by name, check shapes and bytes, fill ``weights``.

    Names are ``<layer>/<kind>``; a middle part (``lstm/lstm_cell/kernel`` from Keras
    converters) is tolerated. The buffer is the manifest's groups concatenated in order,
    as TF.js itself concatenates the shard files.
    """
    if not isinstance(manifest, list) or not all(
        isinstance(g, dict) and isinstance(g.get("weights"), list) for g in manifest
    ):
        raise ModelFormatError("model.json has no valid weightsManifest list.")
    by_name = {layer.name: layer for layer in layers}
    specs: list[tuple[str, _Layer, str, list[int]]] = []
    seen: set[tuple[str, str]] = set()
    for spec in (s for g in manifest for s in g["weights"]):
        name = spec.get("name") if isinstance(spec, dict) else None
        if not isinstance(name, str):
            raise ModelFormatError("A weightsManifest entry has no name.")
        if spec.get("quantization") is not None or spec.get("dtype") != "float32":
            raise ModelFormatError(
                f"Weight {name} is {spec.get('dtype')!r}"
                f"{' (quantized)' if spec.get('quantization') else ''}; only unquantized "
                "float32 weights are supported."
            )
        parts = name.split("/")
        layer = by_name.get(parts[0])
        kind = parts[-1]
        if layer is None or len(parts) < 2 or kind not in layer.expected():
            raise ModelFormatError(f"Weight {name} does not belong to any layer of the model.")
        if (layer.name, kind) in seen:
            raise ModelFormatError(f"Weight {name} appears twice in the manifest.")
        seen.add((layer.name, kind))
        shape = spec.get("shape")
        expected = layer.expected()[kind]
        if shape != expected or not all(type(d) is int for d in shape):
            raise ModelFormatError(
                f"Weight {name} has shape {shape!r}; layer {layer.name} needs {expected}."
            )
        specs.append((name, layer, kind, expected))
    for layer in layers:
        for kind in layer.expected():
            if (layer.name, kind) not in seen:
                raise ModelFormatError(f"The weightsManifest lacks {layer.name}/{kind}.")
    sizes = [math.prod(shape) for *_, shape in specs]
    need = 4 * sum(sizes)
    if len(weights) != need:
        raise ModelFormatError(
            f"The weights are {len(weights)} bytes but the manifest describes {need} "
            f"({sum(sizes)} float32 values). The upload was truncated or does not belong "
            "to this model.json."
        )
    values = np.frombuffer(weights, dtype="<f4")
    offset = 0
    for (name, layer, kind, shape), size in zip(specs, sizes, strict=True):
        array = values[offset : offset + size].reshape(shape).astype(np.float32)
        offset += size
        if not np.isfinite(array).all():
            raise ModelFormatError(
                f"Weight {name} contains NaN or infinite values; the model diverged. Retrain "
                "it (a lower learning rate usually helps) before saving."
            )
        layer.weights[kind] = array
