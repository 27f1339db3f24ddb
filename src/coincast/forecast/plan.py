"""A :class:`FitPlan`: one coin's prepared data and network, ready to train.

``Forecaster.plan`` makes one and ``Forecaster.finish`` takes its trained network back;
between the two, anything that follows the training contract
(``coincast.model.schedule``) may train it: ``FitPlan.train`` for one model, or
``coincast.model.fast.batched.train_many`` for many at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from coincast.forecast.forecast import ForecastSpec
from coincast.model.lstm import LSTMRegressor
from coincast.model.schedule import CancelToken, Dataset, OnEpoch, TrainConfig, TrainResult
from coincast.model.train import train_model
from coincast.prep.dataset import Prepared

__all__ = ["FitPlan"]


@dataclass(frozen=True)
class FitPlan:
    """One coin's prepared data and untrained (or warm-started) network: what to train.

    ``train`` runs the ordinary loop; an engine may instead train ``model`` on ``data``
    with ``config`` any way that follows the same contract (``coincast.model.schedule``)
    and hand the result to ``Forecaster.finish``.
    """

    prep: Prepared
    model: LSTMRegressor
    data: Dataset
    config: TrainConfig
    spec: ForecastSpec  # the forecast recipe before the shrink weight is fitted
    coin: str | None
    end: str | pd.Timestamp | None
    horizon: int

    @property
    def has_validation(self) -> bool:
        return self.data[2] is not None

    def train(
        self, on_epoch: OnEpoch | None = None, cancel: CancelToken | None = None
    ) -> TrainResult:
        x, y, x_val, y_val = self.data
        return train_model(
            self.model, x, y, x_val, y_val, config=self.config, on_epoch=on_epoch, cancel=cancel
        )
