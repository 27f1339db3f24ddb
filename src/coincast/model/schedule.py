"""What a training run is asked to do and what it reports: one contract, two loops.

``coincast.model.train`` (one model) and ``coincast.model.fast.batched`` (many models as
one computation) both follow it, so a batched run equals sequential runs:

- one ``g = torch.Generator().manual_seed(config.seed)`` per run; each epoch's order is
  ``torch.randperm(N, generator=g)`` (``arange(N)`` when ``shuffle`` is off); batches are
  consecutive slices of it, the last one possibly shorter (Keras does the same);
- the per-batch loss is the mean squared error over the batch; the epoch's reported
  loss is the mean over all N samples (batch losses weighted by batch size);
- after each epoch the monitored value (validation loss, or the training loss when no
  validation data is given) feeds early stopping and the plateau LR schedule; an
  improvement means strictly lower than the best so far.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from coincast.errors import DataError, ParameterError
from coincast.model.lstm import LSTMRegressor

__all__ = [
    "ADAM_EPS",
    "CancelToken",
    "Dataset",
    "EpochReport",
    "OnEpoch",
    "Plateau",
    "TrainConfig",
    "TrainResult",
    "check_training_data",
]

# Keras/TF.js Adam uses epsilon 1e-7 (PyTorch: 1e-8); the reference design is a Keras
# model, so we follow it. The difference only matters when gradients are tiny.
ADAM_EPS = 1e-7


@dataclass(frozen=True)
class TrainConfig:
    """Training hyperparameters (architecture lives in ``ModelConfig``)."""

    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-3
    patience: int | None = None
    lr_decay_patience: int | None = None
    lr_decay_factor: float = 0.5
    min_lr: float = 1e-5
    seed: int = 42
    shuffle: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ParameterError("epochs must be at least 1")
        if self.batch_size < 1:
            raise ParameterError("batch_size must be at least 1")
        if not self.lr > 0:
            raise ParameterError("lr must be positive")
        if self.patience is not None and self.patience < 1:
            raise ParameterError("patience must be at least 1 (or None to train every epoch)")
        if self.lr_decay_patience is not None and self.lr_decay_patience < 1:
            raise ParameterError("lr_decay_patience must be at least 1 (or None for a fixed lr)")
        if not 0.0 < self.lr_decay_factor < 1.0:
            raise ParameterError("lr_decay_factor must be in (0, 1)")
        if self.min_lr < 0:
            raise ParameterError("min_lr must not be negative")


@dataclass(frozen=True)
class EpochReport:
    """One finished epoch, as the CLI progress bar and the server's job stream see it."""

    epoch: int  # 1-based
    epochs: int
    loss: float  # mean training MSE over the epoch's samples
    val_loss: float | None
    lr: float  # the rate used during this epoch
    elapsed_s: float  # since training started
    eta_s: float  # remaining epochs at the mean pace so far (an upper bound with patience)


class CancelToken:
    """Set from any thread (a server request, Ctrl-C handler); training stops at the next batch."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class TrainResult:
    """What happened; the model itself was trained in place (and is also returned here)."""

    model: LSTMRegressor
    history: list[EpochReport] = field(default_factory=list)
    best_epoch: int | None = None  # epoch with the lowest monitored loss (1-based)
    best_loss: float | None = None  # that loss (validation loss when validation data given)
    stopped_early: bool = False
    cancelled: bool = False
    restored_best: bool = False  # the model holds the best epoch's weights, not the last's
    elapsed_s: float = 0.0

    @property
    def epochs_run(self) -> int:
        return len(self.history)


OnEpoch = Callable[[EpochReport], None]

Dataset = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]
"""(x_train [N, window, F], y_train [N], x_val or None, y_val or None), float32."""


class Plateau:
    """Patience counter shared by early stopping and LR decay (Keras semantics, min_delta 0).

    Kept tiny and explicit so ``batched`` applies exactly the same rule per model.
    """

    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.best = math.inf
        self.wait = 0

    def step(self, value: float) -> tuple[bool, bool]:
        """Record one epoch's value → (improved, patience exhausted)."""
        if value < self.best:
            self.best = value
            self.wait = 0
            return True, False
        self.wait += 1
        exhausted = self.patience is not None and self.wait >= self.patience
        return False, exhausted


def check_training_data(
    model: LSTMRegressor,
    x: torch.Tensor,
    y: torch.Tensor,
    x_val: torch.Tensor | None,
    y_val: torch.Tensor | None,
) -> None:
    """Fail early with a message that says which array is wrong, not deep inside a matmul."""
    n_features = model.config.n_features
    pairs = [("training", x, y)]
    if (x_val is None) != (y_val is None):
        raise DataError("Pass both x_val and y_val, or neither.")
    if x_val is not None and y_val is not None:
        pairs.append(("validation", x_val, y_val))
    for what, xs, ys in pairs:
        if xs.dtype != torch.float32 or ys.dtype != torch.float32:
            raise DataError(f"The {what} tensors must be float32 (got {xs.dtype}, {ys.dtype}).")
        if xs.ndim != 3 or xs.shape[2] != n_features:
            raise DataError(
                f"The {what} inputs must have shape [N, window, {n_features}] for this model; "
                f"got {list(xs.shape)}. Check the model's n_features against the features used."
            )
        if ys.ndim != 1 or ys.shape[0] != xs.shape[0]:
            raise DataError(
                f"The {what} targets must have shape [{xs.shape[0]}]; got {list(ys.shape)}."
            )
        if xs.shape[0] == 0:
            raise DataError(
                f"There are no {what} windows; use a longer history or a shorter window."
            )
        if not (torch.isfinite(xs).all() and torch.isfinite(ys).all()):
            raise DataError(f"The {what} data contain NaN or infinite values; clean them first.")
