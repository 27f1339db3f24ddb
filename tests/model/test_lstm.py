"""Layer shapes, parameter counts and initialisation of the shared LSTM module."""

from __future__ import annotations

import torch

from coincast.model.lstm import LSTMRegressor, ModelConfig


def test_paper_shapes_and_keras_parameter_count() -> None:
    model = LSTMRegressor(ModelConfig(n_features=2, units=(50,)))
    layer = model.lstm[0]
    assert tuple(layer.weight_ih_l0.shape) == (200, 2)
    assert tuple(layer.weight_hh_l0.shape) == (200, 50)
    # Keras counts one merged bias per gate: 10,400 weights + 200 biases, Dense 51.
    keras_lstm = layer.weight_ih_l0.numel() + layer.weight_hh_l0.numel() + layer.bias_ih_l0.numel()
    assert keras_lstm == 10_400 + 200
    assert model.head.weight.numel() + model.head.bias.numel() == 51
    assert model(torch.zeros(4, 30, 2)).shape == (4,)


def test_keras_initialisation() -> None:
    model = LSTMRegressor(ModelConfig(units=(50,)), generator=torch.Generator().manual_seed(0))
    layer = model.lstm[0]
    merged = (layer.bias_ih_l0 + layer.bias_hh_l0).detach()
    assert torch.equal(merged[50:100], torch.ones(50)), "forget-gate bias must be 1"
    assert torch.count_nonzero(merged[:50]) == 0 and torch.count_nonzero(merged[100:]) == 0
    w = layer.weight_hh_l0.detach()  # [4u, u]: orthonormal columns
    assert torch.allclose(w.T @ w, torch.eye(50), atol=1e-5)
    limit = (6.0 / (2 + 200)) ** 0.5  # Glorot-uniform bound for kernel [2, 200]
    assert float(layer.weight_ih_l0.detach().abs().max()) <= limit
