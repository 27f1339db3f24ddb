"""Training loop for ``LSTMRegressor``: Adam + MSE on mini-batches, with callbacks.

One function, ``train_model``, serves every caller (Python API, CLI, server jobs,
"train further" on a stored model) so that progress, early stopping and cancellation
behave the same everywhere. The loop reads top to bottom; the fast recurrent kernel
lives in ``coincast.model.kernels`` and computes the same numbers as ``nn.LSTM``.

Contract shared with ``coincast.model.batched`` (so a batched run equals sequential runs):

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
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from coincast.errors import DataError
from coincast.model.lstm import LSTMRegressor

__all__ = [
    "ADAM_EPS",
    "CancelToken",
    "EpochReport",
    "OnEpoch",
    "Plateau",
    "TrainConfig",
    "TrainResult",
    "check_training_data",
    "train_model",
    "train_reference",
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
            raise ValueError("epochs must be at least 1")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not self.lr > 0:
            raise ValueError("lr must be positive")
        if self.patience is not None and self.patience < 1:
            raise ValueError("patience must be at least 1 (or None to train every epoch)")
        if self.lr_decay_patience is not None and self.lr_decay_patience < 1:
            raise ValueError("lr_decay_patience must be at least 1 (or None for a fixed lr)")
        if not 0.0 < self.lr_decay_factor < 1.0:
            raise ValueError("lr_decay_factor must be in (0, 1)")
        if self.min_lr < 0:
            raise ValueError("min_lr must not be negative")


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


def _mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 4096) -> float:
    """Mean squared error in eval mode, chunked so a long validation set stays small in RAM."""
    total = 0.0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            pred = model(x[i : i + batch])
            total += float(((pred - y[i : i + batch]) ** 2).sum())
    return total / x.shape[0]


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train_model(
    model: LSTMRegressor,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    config: TrainConfig | None = None,
    on_epoch: OnEpoch | None = None,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Train ``model`` in place: Adam + MSE, mini-batches, early stopping, LR decay.

    x: [N, window, F] float32, y: [N] float32 (validation likewise). Resuming is the
    same call with a model loaded from the store: weights carry over, the optimizer
    state starts fresh (TF.js files hold no optimizer state).

    With ``patience`` set, training stops after that many epochs without a lower
    monitored loss and the best epoch's weights are restored. A cancelled run keeps
    the best completed epoch's weights (the last ones if no epoch finished) and sets
    ``cancelled``; whether to keep the model is the caller's decision.

    Models without dropout run on the hand-written kernel (``coincast.model.batched``
    with one model, its time loop compiled by ``coincast.model.native``): equal to
    autograd through ``nn.LSTM`` within float tolerance, about 2x faster for the paper
    model here (bitcoin, 50 epochs, 1 thread: ~10 s against ~21 s), with no global RNG
    state, and the same numbers ``train_many`` gives. Models with dropout use
    ``train_reference``.
    """
    config = config or TrainConfig()
    if model.config.dropout > 0:
        return train_reference(model, x_train, y_train, x_val, y_val, config, on_epoch, cancel)
    from coincast.model.batched import train_many  # batched builds on this module's types

    check_training_data(model, x_train, y_train, x_val, y_val)

    def report(_: int, epoch_report: EpochReport) -> None:
        if on_epoch is not None:
            on_epoch(epoch_report)

    return train_many(
        [model], [(x_train, y_train, x_val, y_val)], config, cancel=cancel, on_model_epoch=report
    )[0]


def train_reference(
    model: LSTMRegressor,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    config: TrainConfig | None = None,
    on_epoch: OnEpoch | None = None,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """The plain loop: autograd through ``nn.LSTM`` and ``torch.optim.Adam``.

    Same contract as ``train_model``; it trains models with dropout and is the oracle
    the fast kernel is tested against. Dropout draws from the global RNG seeded with
    ``config.seed`` inside ``fork_rng`` (saved and restored), so a run is reproducible
    without touching the caller's RNG state.
    """
    config = config or TrainConfig()
    check_training_data(model, x_train, y_train, x_val, y_val)
    x_train, y_train = x_train.contiguous(), y_train.contiguous()
    n = x_train.shape[0]

    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, eps=ADAM_EPS)
    g = torch.Generator().manual_seed(config.seed)
    stopper = Plateau(config.patience)
    decay = Plateau(config.lr_decay_patience)
    result = TrainResult(model=model)
    best_state: dict[str, torch.Tensor] | None = None
    lr = config.lr
    start = time.perf_counter()

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        for epoch in range(1, config.epochs + 1):
            model.train()
            order = torch.randperm(n, generator=g) if config.shuffle else torch.arange(n)
            total = 0.0
            for i in range(0, n, config.batch_size):
                if cancel is not None and cancel.cancelled:
                    result.cancelled = True
                    break
                idx = order[i : i + config.batch_size]
                xb, yb = x_train[idx], y_train[idx]
                optimizer.zero_grad(set_to_none=True)
                loss = torch.mean((model(xb) - yb) ** 2)
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                total += float(loss.detach()) * idx.shape[0]
            if result.cancelled:
                break

            model.eval()
            train_loss = total / n
            val_loss = (
                _mse(model, x_val, y_val) if x_val is not None and y_val is not None else None
            )
            monitored = val_loss if val_loss is not None else train_loss
            elapsed = time.perf_counter() - start
            report = EpochReport(
                epoch=epoch,
                epochs=config.epochs,
                loss=train_loss,
                val_loss=val_loss,
                lr=lr,
                elapsed_s=elapsed,
                eta_s=elapsed / epoch * (config.epochs - epoch),
            )
            result.history.append(report)
            improved, exhausted = stopper.step(monitored)
            if improved:
                result.best_epoch, result.best_loss = epoch, monitored
                best_state = _snapshot(model)  # ~10k floats: cheap next to an epoch
            if on_epoch is not None:
                on_epoch(report)
            if exhausted:
                result.stopped_early = epoch < config.epochs
                break
            _, plateaued = decay.step(monitored)
            if plateaued and lr > config.min_lr:
                lr = max(lr * config.lr_decay_factor, config.min_lr)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                decay.wait = 0

    model.eval()
    # A cancelled run stopped mid-epoch, so even a "best = last epoch" needs restoring.
    moved = result.cancelled or result.best_epoch != result.epochs_run
    if (config.patience is not None or result.cancelled) and best_state is not None and moved:
        model.load_state_dict(best_state)
        result.restored_best = True
    result.elapsed_s = time.perf_counter() - start
    return result
