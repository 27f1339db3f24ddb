"""Writing the TF.js layers-model format: ``LSTMRegressor`` → model.json + weights buffer.

The mapping and why ``recurrent_activation`` is written explicitly are in ``tfjs``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from coincast.errors import ModelFormatError, ParameterError
from coincast.json_values import json_safe
from coincast.model.lstm import LSTMRegressor
from coincast.store.tfjs.read import MAX_WINDOW

__all__ = ["TFJS_LAYERS_VERSION", "WEIGHTS_FILE", "to_tfjs"]

WEIGHTS_FILE = "model.weights.bin"
TFJS_LAYERS_VERSION = "4.22.0"


def to_tfjs(
    model: LSTMRegressor, window: int, metadata: dict[str, Any]
) -> tuple[dict[str, Any], bytes]:
    """The model.json document and the weights buffer for ``model`` on ``window`` days.

    ``metadata`` becomes ``userDefinedMetadata``; JSON has no NaN, so non-finite floats
    in it are written as null (a missing metric, not a crash in ``JSON.parse``).
    """
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW:
        raise ModelFormatError(f"window must be an integer in 1..{MAX_WINDOW}, got {window!r}.")
    meta_window = metadata.get("window")
    if meta_window is not None and meta_window != window:
        raise ModelFormatError(
            f"metadata says window={meta_window!r} but the export asks for {window}; pass one."
        )
    cfg = model.config
    if cfg.attention:
        raise ParameterError(
            "this model uses attention pooling over the LSTM's hidden states, which cannot "
            "be expressed in TF.js layers (the browser and the store read LSTM → Dense "
            "only); it cannot be exported. Train without attention to save or share it."
        )
    layers: list[dict[str, Any]] = []
    arrays: list[tuple[str, np.ndarray[Any, np.dtype[np.float32]]]] = []
    for k, lstm in enumerate(model.lstm_layers()):
        name = f"lstm_{k + 1}"
        config: dict[str, Any] = {"name": name, "trainable": True}
        if k == 0:
            config.update(batch_input_shape=[None, window, cfg.n_features], dtype="float32")
        config.update(
            units=lstm.hidden_size,
            activation="tanh",
            recurrent_activation="sigmoid",
            use_bias=True,
            unit_forget_bias=True,
            dropout=0,
            recurrent_dropout=0,
            return_sequences=k < len(cfg.units) - 1,
            return_state=False,
            go_backwards=False,
            stateful=False,
            unroll=False,
        )
        layers.append({"class_name": "LSTM", "config": config})
        w_ih, w_hh, b_ih, b_hh = (t.detach() for t in lstm.all_weights[0])
        arrays += [
            (f"{name}/kernel", _np(w_ih.T)),
            (f"{name}/recurrent_kernel", _np(w_hh.T)),
            (f"{name}/bias", _np(b_ih + b_hh)),
        ]
        if cfg.dropout > 0:
            layers.append(
                {
                    "class_name": "Dropout",
                    "config": {
                        "name": f"dropout_{k + 1}",
                        "rate": cfg.dropout,
                        "noise_shape": None,
                        "seed": None,
                        "trainable": True,
                    },
                }
            )
    dense = {"name": "dense_1", "units": 1, "activation": "linear", "use_bias": True}
    layers.append({"class_name": "Dense", "config": {**dense, "trainable": True}})
    arrays += [
        ("dense_1/kernel", _np(model.head.weight.detach().T)),
        ("dense_1/bias", _np(model.head.bias.detach())),
    ]
    from coincast.version import __version__

    doc = {
        "modelTopology": {
            "class_name": "Sequential",
            "config": {"name": "coincast_lstm", "layers": layers},
            "keras_version": f"tfjs-layers {TFJS_LAYERS_VERSION}",
            "backend": "tensor_flow.js",
        },
        "format": "layers-model",
        "generatedBy": f"coincast {__version__}",
        "convertedBy": None,
        "weightsManifest": [
            {
                "paths": [WEIGHTS_FILE],
                "weights": [
                    {"name": n, "shape": list(a.shape), "dtype": "float32"} for n, a in arrays
                ],
            }
        ],
        "userDefinedMetadata": _checked_metadata(metadata),
    }
    weights = b"".join(a.astype("<f4", copy=False).tobytes() for _, a in arrays)
    return doc, weights


def _np(t: torch.Tensor) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.ascontiguousarray(t.to(torch.float32).cpu().numpy())


def _checked_metadata(metadata: Any) -> Any:
    """Metadata as plain JSON (NaN/inf → null), or a ModelFormatError naming what is not."""
    value = json_safe(metadata)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"metadata is not JSON-serialisable: {exc}.") from exc
    return value
