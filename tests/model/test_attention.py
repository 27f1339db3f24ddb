"""Attention pooling over the LSTM's hidden states: it trains, and its export says no."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coincast.api import Forecaster
from coincast.errors import DataError, ParameterError
from coincast.model.fast.batched import train_many
from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.model.schedule import TrainConfig
from coincast.model.train import train_model
from tests.helpers.histories import history

pytestmark = pytest.mark.usefixtures("one_thread")


def data(n: int = 256, w: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """The target is the window's 3rd day: a last-state model must carry it 7 steps,
    attention can look at it directly."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, w, 1, generator=g)
    return x, x[:, 2, 0].clone()


def test_attention_model_trains_and_pools_over_all_days() -> None:
    x, y = data()
    torch.manual_seed(0)  # the initialisation; over seeds 0-11 the ratio was 0.15-0.30
    model = LSTMRegressor(ModelConfig(n_features=1, units=(16,), attention=True))
    assert model.attn is not None
    before = float(torch.mean((model(x) - y) ** 2))
    result = train_model(model, x, y, config=TrainConfig(epochs=30, lr=1e-2))
    after = float(torch.mean((model(x) - y) ** 2))
    assert result.epochs_run == 30 and after < 0.5 * before
    # the output depends on an early day (no last-state shortcut)
    x2 = x.clone()
    x2[:, 2, 0] = 1 - x2[:, 2, 0]
    assert float(torch.mean(torch.abs(model(x2) - model(x)))) > 0.05


def test_batched_engine_refuses_attention() -> None:
    x, y = data(32)
    model = LSTMRegressor(ModelConfig(n_features=1, units=(4,), attention=True))
    with pytest.raises(DataError, match="attention"):
        train_many([model], [(x, y, None, None)], TrainConfig(epochs=1))


def test_attention_forecaster_fits_and_its_export_is_refused_clearly() -> None:
    rng = np.random.default_rng(5)
    h = history(100 * np.exp(np.cumsum(rng.normal(0, 0.02, 400))))
    fc = Forecaster("shrunk", attention=True, units=(4,), epochs=2, window=5).fit(h)
    assert fc.model is not None and fc.model.config.attention
    assert fc.forecast(3)["forecast"].notna().all()
    with pytest.raises(ParameterError, match="cannot be expressed in TF.js layers"):
        fc.export()
