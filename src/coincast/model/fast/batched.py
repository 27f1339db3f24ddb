"""Train many LSTM models at once as one computation (one per coin, or one model alone).

The paper model is so small that one model's step is mostly per-op overhead; stacking
M models' weights along a leading model axis turns every op into one batched op for
all of them (``coincast.model.fast.kernels``). ``train_model`` uses this engine with M = 1.

Equal to training each model alone (within float tolerance), because every model keeps
its own state exactly as ``train_model`` would:

- its own ``torch.Generator().manual_seed(config.seed)`` and ``randperm(N_m)`` per epoch,
  so each model sees the batches it would see alone;
- its own Adam moments *and step count*, learning rate, plateau counters, best weights.

Different data lengths (coins with shorter histories) are handled with **per-model
masks**, not by resampling to equal counts (which would change what each model sees):
the data are padded to the longest set; in step j a model whose epoch has fewer than
j+1 batches (or that has stopped early) is simply not updated, and a short last batch
is weighted by 1/len over its real rows. When only some models are active, the step
runs on that subset only, so finished models cost nothing.

Models with dropout are not supported here (their noise could not match a sequential
run); ``train_model`` trains those with the reference loop.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from coincast.errors import DataError
from coincast.model.fast.batched_state import (
    EpochBatches,
    SharedState,
    StackedAdam,
    WorkspacePool,
    pad_stack,
    plan_groups,
    run_shares,
    run_steps,
    step_trial,
)
from coincast.model.fast.stacked_step import predict_stacked
from coincast.model.fast.stacking import FlatParams, stack_params, unstack_params
from coincast.model.fast.threads import choose_threads, using_threads
from coincast.model.lstm import LSTMRegressor
from coincast.model.schedule import (
    CancelToken,
    Dataset,
    EpochReport,
    Plateau,
    TrainConfig,
    TrainResult,
    check_training_data,
)

__all__ = ["BatchedEpochReport", "predict_stacked", "train_many"]


@dataclass(frozen=True)
class BatchedEpochReport:
    """Overall progress after one epoch of the joint run."""

    epoch: int
    epochs: int
    active: int  # models still training after this epoch
    losses: list[float | None]  # per model; None for a model that had already stopped
    val_losses: list[float | None]
    elapsed_s: float
    eta_s: float


OnBatchedEpoch = Callable[[BatchedEpochReport], None]


def train_many(
    models: Sequence[LSTMRegressor],
    datasets: Sequence[Dataset],
    config: TrainConfig | None = None,
    on_epoch: OnBatchedEpoch | None = None,
    cancel: CancelToken | None = None,
    on_model_epoch: Callable[[int, EpochReport], None] | None = None,
    group_size: int | None = 16,
    threads: int | None = None,
) -> list[TrainResult]:
    """Train each model on its own dataset, all as one computation; models change in place.

    Each result equals (within float tolerance) ``train_model(models[i], *datasets[i],
    config)``; early stopping, LR decay and best-weight restore apply per model.
    ``on_epoch`` reports overall progress; ``on_model_epoch(i, report)`` gives the
    per-model report ``train_model`` would have passed to its callback.

    ``group_size``: each step runs the models in groups of at most this many (None: all
    at once), of equal size. Past a few dozen models the per-step buffers fall out of
    the CPU caches and throughput drops; every group still shares each op. Models are
    grouped longest history first, so the models still in their epoch at a late step are
    the first rows of their group (a view, no copy). Results do not depend on either.

    ``threads``: None chooses between one thread and torch's count by timing a few
    steps (``coincast.model.fast.threads``): on a busy machine a second thread makes
    training slower, and counting cores cannot tell. Results agree within float
    tolerance whatever the choice.
    """
    config = config or TrainConfig()
    if len(models) != len(datasets) or not models:
        raise DataError("Pass one dataset (x, y, x_val, y_val) per model, and at least one model.")
    if any(m.config.dropout > 0 or m.config.attention for m in models):
        raise DataError(
            "Batched training covers models without dropout or attention; train those one "
            "at a time with train_model."
        )
    for model, (x, y, xv, yv) in zip(models, datasets, strict=True):
        check_training_data(model, x, y, xv, yv)
    order = sorted(range(len(models)), key=lambda i: -int(datasets[i][0].shape[0]))
    back = {k: i for i, k in enumerate(order)}  # original index → sorted position

    def epoch_report(r: BatchedEpochReport) -> None:
        assert on_epoch is not None
        losses = [r.losses[back[i]] for i in range(len(order))]
        val_losses = [r.val_losses[back[i]] for i in range(len(order))]
        on_epoch(dataclasses.replace(r, losses=losses, val_losses=val_losses))

    def model_report(i: int, report: EpochReport) -> None:
        assert on_model_epoch is not None
        on_model_epoch(order[i], report)

    results = _train_sorted(
        [models[i] for i in order],
        [datasets[i] for i in order],
        config,
        epoch_report if on_epoch is not None else None,
        cancel,
        model_report if on_model_epoch is not None else None,
        group_size,
        threads,
    )
    return [results[back[i]] for i in range(len(order))]


def _run_share(
    shared: SharedState,
    epoch: EpochBatches,
    pools: list[WorkspacePool],
    share: list[tuple[int, int]],
    worker: int,
) -> bool:
    return run_steps(shared, epoch, share, pools[worker])


def _train_sorted(
    models: Sequence[LSTMRegressor],
    datasets: Sequence[Dataset],
    config: TrainConfig,
    on_epoch: OnBatchedEpoch | None,
    cancel: CancelToken | None,
    on_model_epoch: Callable[[int, EpochReport], None] | None,
    group_size: int | None,
    threads: int | None,
) -> list[TrainResult]:
    """``train_many`` on models ordered by training-set size, longest first."""
    has_val = [d[2] is not None and d[3] is not None for d in datasets]
    n_models = len(models)
    sizes = torch.tensor([d[0].shape[0] for d in datasets])
    x_all, y_all = pad_stack([d[0] for d in datasets]), pad_stack([d[1] for d in datasets])
    val: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    if any(has_val):
        # A model without validation data gets one dummy row of weight 0 (and monitors
        # its training loss, as train_model does).
        xvs, yvs, masks = [], [], []
        for x, y, xv, yv in datasets:
            if xv is not None and yv is not None:
                xvs.append(xv)
                yvs.append(yv)
                masks.append(torch.full((yv.shape[0],), 1.0 / yv.shape[0]))
            else:
                xvs.append(x[:1])
                yvs.append(y[:1])
                masks.append(torch.zeros(1))
        val = (pad_stack(xvs), pad_stack(yvs), pad_stack(masks))

    bs = config.batch_size
    n_batches = (sizes + bs - 1) // bs  # [M]
    max_batches = int(n_batches.max())
    model_rows = torch.arange(n_models).unsqueeze(1)
    stacked = FlatParams(stack_params(models))
    params = stacked.params
    adam = StackedAdam(stacked.flat, config.lr)
    first = models[0].config
    layer_sizes = (first.n_features, *first.units)
    if threads is None:  # by measurement, between one thread and torch's count
        candidates = (1, torch.get_num_threads())
        key = (n_models, group_size, tuple(x_all.shape[1:]), bs, layer_sizes, candidates)
        trial = step_trial(stacked, x_all, y_all, bs, layer_sizes, group_size)
        threads = choose_threads(key, trial, candidates).threads
    groups, shares = plan_groups(n_models, group_size, threads)
    pools = [WorkspacePool(int(x_all.shape[2]), layer_sizes) for _ in shares]
    group_params = {g0: stacked.views(stacked.flat[g0:g1]) for g0, g1 in groups}
    shared = SharedState(stacked, adam, group_params, bs, cancel)
    generators = [torch.Generator().manual_seed(config.seed) for _ in models]
    stoppers = [Plateau(config.patience) for _ in models]
    decays = [Plateau(config.lr_decay_patience) for _ in models]
    results = [TrainResult(model=m) for m in models]
    best = stacked.flat.clone()
    has_best = torch.zeros(n_models, dtype=torch.bool)
    running = torch.ones(n_models, dtype=torch.bool)  # not stopped early
    lrs = [config.lr] * n_models
    cancelled = False
    start = time.perf_counter()

    for epoch in range(1, config.epochs + 1):
        # Each model's order from its own generator, padded to max_batches * bs rows.
        order = torch.zeros(n_models, max_batches * bs, dtype=torch.long)
        weight = torch.zeros(n_models, max_batches * bs)
        for i in range(n_models):
            if not running[i]:
                continue
            n_i = int(sizes[i])
            perm = torch.randperm(n_i, generator=generators[i]) if config.shuffle else None
            order[i, :n_i] = perm if perm is not None else torch.arange(n_i)
            last = n_i - (int(n_batches[i]) - 1) * bs
            weight[i, :n_i] = 1.0 / bs
            weight[i, n_i - last : n_i] = 1.0 / last
        # The epoch's batches gathered once, time-major: xe[j] is step j's [M, T, B, F].
        xe = x_all[model_rows, order].view(n_models, max_batches, bs, *x_all.shape[2:])
        xe = xe.permute(1, 0, 3, 2, 4).contiguous()
        ye = y_all[model_rows, order].view(n_models, max_batches, bs).transpose(0, 1).contiguous()
        we = weight.view(n_models, max_batches, bs).transpose(0, 1).contiguous()
        batch_losses = torch.zeros(max_batches, n_models)
        epoch_data = EpochBatches(xe, ye, we, batch_losses, running.tolist(), n_batches.tolist())
        run = functools.partial(_run_share, shared, epoch_data, pools)
        cancelled = any(run_shares(threads, shares, run))
        counts = (we > 0).sum(dim=2).double()  # [batches, M] real rows per batch
        epoch_loss = (batch_losses.double() * counts).sum(dim=0)
        if cancelled:
            break

        val_losses: list[float | None] = [None] * n_models
        if val is not None:
            with using_threads(threads):
                pred = predict_stacked(params, val[0])
            per_model = (((pred - val[1]) ** 2) * val[2]).sum(dim=1)
            val_losses = [float(v) if has_val[i] else None for i, v in enumerate(per_model)]
        # Models hold each epoch's weights, so callbacks can inspect or checkpoint them.
        unstack_params(models, params)
        elapsed = time.perf_counter() - start
        losses: list[float | None] = [None] * n_models
        improved_any = []
        for i in range(n_models):
            if not running[i]:
                continue
            loss_i = float(epoch_loss[i]) / int(sizes[i])  # batch means weighted by size / N
            losses[i] = loss_i
            val_i = val_losses[i]
            monitored = val_i if val_i is not None else loss_i
            report = EpochReport(
                epoch=epoch,
                epochs=config.epochs,
                loss=loss_i,
                val_loss=val_i,
                lr=lrs[i],
                elapsed_s=elapsed,
                eta_s=elapsed / epoch * (config.epochs - epoch),
            )
            results[i].history.append(report)
            improved, exhausted = stoppers[i].step(monitored)
            if improved:
                results[i].best_epoch, results[i].best_loss = epoch, monitored
                improved_any.append(i)
            if on_model_epoch is not None:
                on_model_epoch(i, report)
            if exhausted:
                results[i].stopped_early = epoch < config.epochs
                running[i] = False
                continue
            _, plateaued = decays[i].step(monitored)
            if plateaued and lrs[i] > config.min_lr:
                lrs[i] = max(lrs[i] * config.lr_decay_factor, config.min_lr)
                adam.lr[i] = lrs[i]
                decays[i].wait = 0
        if improved_any:
            sel = torch.tensor(improved_any)
            best[sel] = stacked.flat[sel]
            has_best[sel] = True
        if on_epoch is not None:
            on_epoch(
                BatchedEpochReport(
                    epoch=epoch,
                    epochs=config.epochs,
                    active=int(running.sum()),
                    losses=losses,
                    val_losses=[
                        v if losses[i] is not None else None for i, v in enumerate(val_losses)
                    ],
                    elapsed_s=elapsed,
                    eta_s=elapsed / epoch * (config.epochs - epoch),
                )
            )
        if not bool(running.any()):
            break

    # Restore best weights where the rule asks for it (see train_model).
    for i, result in enumerate(results):
        result.cancelled = cancelled
        moved = cancelled or result.best_epoch != result.epochs_run
        if (config.patience is not None or cancelled) and bool(has_best[i]) and moved:
            stacked.flat[i] = best[i]
            result.restored_best = True
    unstack_params(models, params)
    elapsed = time.perf_counter() - start
    for result in results:
        result.elapsed_s = elapsed
    return results
