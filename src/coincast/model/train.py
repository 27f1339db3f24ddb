"""Training loop for ``LSTMRegressor``: Adam + MSE on mini-batches, with callbacks.

One function, ``train_model``, serves every caller (Python API, CLI, server jobs,
"train further" on a stored model) so that progress, early stopping and cancellation
behave the same everywhere. The loop reads top to bottom; models without dropout run on
the fast path (``coincast.model.fast``), which computes the same numbers as ``nn.LSTM``.
The contract both loops follow is in ``coincast.model.schedule``.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from coincast.model.fast.batched import train_many
from coincast.model.lstm import LSTMRegressor
from coincast.model.schedule import (
    ADAM_EPS,
    CancelToken,
    EpochReport,
    OnEpoch,
    Plateau,
    TrainConfig,
    TrainResult,
    check_training_data,
)

__all__ = ["train_model", "train_reference"]


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

    Models without dropout run on the hand-written kernel (``coincast.model.fast.batched``
    with one model, its time loop compiled by ``coincast.model.fast.native``): equal to
    autograd through ``nn.LSTM`` within float tolerance, about 4x faster for the paper
    model here (bitcoin, 50 epochs: 4.0 s on 2 threads, ~7 s on 1, against 15.8 s for
    the plain loop on 1; ``benchmarks/bench_train.py``), with no global RNG
    state, and the same numbers ``train_many`` gives. Models with dropout use
    ``train_reference``.
    """
    config = config or TrainConfig()
    if model.config.dropout > 0 or model.config.attention:  # the kernel has no attention
        return train_reference(model, x_train, y_train, x_val, y_val, config, on_epoch, cancel)

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
