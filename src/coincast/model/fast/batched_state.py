"""Per-step state of the batched trainer: stacked Adam, kernel workspaces, padded data,
and the loop over one epoch's steps that a worker thread runs.

Kept apart from ``coincast.model.fast.batched`` (the training loop) because each piece has
its own invariant: Adam keeps every model's own step count and learning rate; the pool
hands a subset of models the first rows of one set of buffers, so memory stays bounded
by one workspace per batch size.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import torch

from coincast.model.fast.kernels import INLINE_INPUTS, LayerWorkspace
from coincast.model.fast.native import native_ops
from coincast.model.fast.stacked_step import loss_and_grads
from coincast.model.fast.stacking import FlatParams
from coincast.model.fast.threads import using_threads
from coincast.model.schedule import ADAM_EPS, CancelToken

__all__ = [
    "BETA1",
    "BETA2",
    "EpochBatches",
    "SharedState",
    "StackedAdam",
    "WorkspacePool",
    "pad_stack",
    "plan_groups",
    "run_shares",
    "run_steps",
    "step_trial",
]

Group = tuple[int, int]  # models [g0, g1) of the sorted run
R = TypeVar("R")

BETA1, BETA2 = 0.9, 0.999  # Adam defaults (PyTorch and Keras agree)


class StackedAdam:
    """Adam over flat stacked parameters with per-model step counts and learning rates.

    Same update as ``torch.optim.Adam`` (single-tensor path): bias-corrected step size
    lr / (1 - b1^t) and denominator sqrt(v) / sqrt(1 - b2^t) + eps.
    """

    def __init__(self, flat: torch.Tensor, lr: float, native: bool | None = None) -> None:
        """``native``: the compiled one-pass update (None: when available; False: the
        tensor ops below, the reference it is tested against)."""
        m = flat.shape[0]
        self.exp_avg = torch.zeros_like(flat)
        self.exp_avg_sq = torch.zeros_like(flat)
        # Per-model scalars as Python numbers (float64): the bias corrections of a step
        # are then one small tensor, not eight ops on [M] tensors (a tenth of a step's
        # time for one model).
        self.steps = [0] * m
        self.lr = [lr] * m
        self.ops = None if native is False else native_ops()

    def advance(self, rows: slice | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Count one more step for the models ``rows``; their (step size, sqrt(1 - b2^t))."""
        index = range(len(self.steps))[rows] if isinstance(rows, slice) else rows.tolist()
        for i in index:
            self.steps[i] += 1
        factors = [
            (self.lr[i] / (1 - BETA1 ** self.steps[i]), math.sqrt(1 - BETA2 ** self.steps[i]))
            for i in index
        ]
        step_size, bc2_sqrt = torch.tensor(factors, dtype=torch.float32).T.contiguous()
        return step_size, bc2_sqrt

    def step(self, flat: torch.Tensor, grad: torch.Tensor, rows: slice | torch.Tensor) -> None:
        """Update the models ``rows`` (a slice: in place on views; indices: gather/scatter)."""
        step_size, bc2_sqrt = self.advance(rows)
        if self.ops is not None and isinstance(rows, slice):
            # One fused pass (lstm_native.cpp): the same arithmetic, a tenth of the dispatches.
            self.ops.adam(
                flat[rows],
                grad.contiguous(),
                self.exp_avg[rows],
                self.exp_avg_sq[rows],
                step_size,
                bc2_sqrt,
                BETA1,
                BETA2,
                ADAM_EPS,
            )
            return
        step_size, bc2_sqrt = step_size.unsqueeze(1), bc2_sqrt.unsqueeze(1)
        m, v = self.exp_avg[rows], self.exp_avg_sq[rows]
        m.lerp_(grad, 1 - BETA1)
        v.mul_(BETA2).addcmul_(grad, grad, value=1 - BETA2)
        denom = v.sqrt().div_(bc2_sqrt).add_(ADAM_EPS)
        update = (m / denom).mul_(step_size)
        if isinstance(rows, slice):
            flat[rows].sub_(update)
        else:
            self.exp_avg[rows], self.exp_avg_sq[rows] = m, v
            flat[rows] = flat[rows] - update


class WorkspacePool:
    """Kernel workspaces by (models, batch): one set of buffers per group size; a subset
    of models (some finished their epoch or stopped) borrows the first rows of it.

    A one-layer model with few inputs (the paper preset) trains through the compiled
    fused step instead (``lstm_step.cpp``: forward, backward and Adam in one call, its
    threads meeting once a step): ``fused`` says so, and ``train_step`` runs it.
    """

    def __init__(self, window: int, sizes: tuple[int, ...], native: bool | None = None) -> None:
        self.window, self.sizes, self.native = window, sizes, native
        self.base: dict[int, list[LayerWorkspace]] = {}  # by batch size: the widest so far
        self.views: dict[tuple[int, int], list[LayerWorkspace]] = {}
        ops = None if native is False else native_ops()
        self.ops = ops if ops is not None and hasattr(ops, "train_step") else None
        self.fused = self.ops is not None and len(sizes) == 2 and sizes[0] <= INLINE_INPUTS
        self.fused_buffers: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def get(self, m: int, b: int) -> list[LayerWorkspace]:
        base = self.base.get(b)
        if base is None or base[0].shape[0] < m:
            base = [
                LayerWorkspace(
                    m, self.window, b, self.sizes[k], self.sizes[k + 1], native=self.native
                )
                for k in range(len(self.sizes) - 1)
            ]
            self.base[b] = base
            self.views = {key: v for key, v in self.views.items() if key[1] != b}
        if base[0].shape[0] == m:
            return base
        if (m, b) not in self.views:
            self.views[(m, b)] = [LayerWorkspace(m, *ws.shape[1:], parent=ws) for ws in base]
        return self.views[(m, b)]

    def train_step(
        self,
        adam: StackedAdam,
        flat: torch.Tensor,
        rows: slice,
        x: torch.Tensor,
        y: torch.Tensor,
        w: torch.Tensor,
    ) -> torch.Tensor:
        """One fused training step (``fused`` must be true) of the models ``rows`` of
        ``flat`` on x [M, T, B, F], y and w [M, B]; their losses [M] (a reused buffer)."""
        assert self.ops is not None and self.fused
        m, _, b, _ = x.shape
        work, grad, loss = self.fused_buffers.get(b) or (torch.empty(0),) * 3
        threads = torch.get_num_threads()
        if grad.shape[0] < m or work.shape[0] < threads:  # work: one slot per thread
            units = self.sizes[1]
            work = torch.empty(threads, b, self.window, 11 * units)
            grad, loss = torch.empty(m, flat.shape[1]), torch.empty(m)
            self.fused_buffers[b] = (work, grad, loss)
        step_size, bc2_sqrt = adam.advance(rows)
        self.ops.train_step(
            flat[rows],
            adam.exp_avg[rows],
            adam.exp_avg_sq[rows],
            step_size,
            bc2_sqrt,
            BETA1,
            BETA2,
            ADAM_EPS,
            x,
            y,
            w,
            work,
            grad[:m],
            loss[:m],
            self.sizes[1],
            True,
        )
        return loss[:m]


def pad_stack(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Stack sets of different lengths along a new model axis, zero-padded to the longest."""
    n_max = max(t.shape[0] for t in tensors)
    out = tensors[0].new_zeros((len(tensors), n_max, *tensors[0].shape[1:]))
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t
    return out


@dataclass
class SharedState:
    """What every worker of the joint run reads (each writes only its groups' rows)."""

    stacked: FlatParams
    adam: StackedAdam
    group_params: dict[int, list[torch.Tensor]]
    batch_size: int
    cancel: CancelToken | None


@dataclass
class EpochBatches:
    """One epoch's batches, time-major: xe[j] is step j's [M, T, B, F]."""

    xe: torch.Tensor
    ye: torch.Tensor
    we: torch.Tensor
    losses: torch.Tensor  # [batches, M], filled in
    running: list[bool]
    n_batches: list[int]
    subsets: dict[tuple[int, int], torch.Tensor] = dataclasses.field(default_factory=dict)


def run_steps(
    shared: SharedState, ep: EpochBatches, share: list[tuple[int, int]], workspaces: WorkspacePool
) -> bool:
    """All of an epoch's steps for some groups of models; True when cancelled.

    A model whose epoch has fewer batches (or that stopped early) sits out the step; the
    models still active are a prefix of their group when sorted by size (views, no
    copies), otherwise they are gathered by index.
    """
    stacked, adam, bs = shared.stacked, shared.adam, shared.batch_size
    for j in range(ep.xe.shape[0]):
        if shared.cancel is not None and shared.cancel.cancelled:
            return True
        for g0, g1 in share:
            active = [i for i in range(g0, g1) if ep.running[i] and ep.n_batches[i] > j]
            n_act = len(active)
            if active and active[-1] == g0 + n_act - 1:  # a prefix
                a1 = g0 + n_act
                if workspaces.fused:
                    xj, yj, wj = ep.xe[j, g0:a1], ep.ye[j, g0:a1], ep.we[j, g0:a1]
                    ep.losses[j, g0:a1] = workspaces.train_step(
                        adam, stacked.flat, slice(g0, a1), xj, yj, wj
                    )
                    continue
                ws = workspaces.get(n_act, bs)
                if a1 == g1:
                    sub_params = shared.group_params[g0]
                else:
                    sub_params = stacked.views(stacked.flat[g0:a1])
                loss, grad = loss_and_grads(
                    sub_params, ep.xe[j, g0:a1], ep.ye[j, g0:a1], ep.we[j, g0:a1], ws
                )
                adam.step(stacked.flat, grad, slice(g0, a1))
                ep.losses[j, g0:a1] = loss
            elif active:
                key = (g0, n_act)  # within an epoch the active set only shrinks
                if key not in ep.subsets:
                    ep.subsets[key] = torch.tensor(active)
                sub = ep.subsets[key]
                ws = workspaces.get(n_act, bs)
                sub_params = stacked.views(stacked.flat[sub])
                x_sub = ep.xe[j].index_select(0, sub)
                loss, grad = loss_and_grads(sub_params, x_sub, ep.ye[j][sub], ep.we[j][sub], ws)
                adam.step(stacked.flat, grad, sub)
                ep.losses[j, sub] = loss
    return False


def plan_groups(
    n_models: int, group_size: int | None, threads: int
) -> tuple[list[Group], list[list[Group]]]:
    """Equal groups of at most ``group_size`` models (at least one per thread), and each
    worker's share of them: 100 models in fours of 25, not 32 + 32 + 32 + 4."""
    n_groups = 1 if group_size is None else -(-n_models // max(1, group_size))
    if threads > 1 and n_models > 1:  # at least one group per core, to use them all
        n_groups = max(n_groups, min(threads, n_models))
    size = -(-n_models // n_groups)
    groups = [(g0, min(g0 + size, n_models)) for g0 in range(0, n_models, size)]
    workers = min(threads, len(groups))
    return groups, [groups[k::workers] for k in range(workers)]


def run_shares(
    threads: int, shares: list[list[Group]], fn: Callable[[list[Group], int], R]
) -> list[R]:
    """``fn(share, worker)`` for every share: in this thread with ``threads`` intra-op
    threads when there is one share, else one worker thread per share on one intra-op
    thread each (the time loop runs in C++ or in torch ops that release the GIL, and one
    model's small ops gain nothing from intra-op threads: they only add synchronisation)."""
    if len(shares) == 1:
        with using_threads(threads):
            return [fn(shares[0], 0)]
    with using_threads(1), ThreadPoolExecutor(max_workers=len(shares)) as pool:
        return list(pool.map(fn, shares, range(len(shares))))


def step_trial(
    stacked: FlatParams,
    x_all: torch.Tensor,
    y_all: torch.Tensor,
    batch: int,
    sizes: tuple[int, ...],
    group_size: int | None,
) -> Callable[[int, int], None]:
    """``trial(n, k)``: k training steps of the run's real shape on scratch copies with n
    threads, what ``coincast.model.fast.threads.choose_threads`` times. The models'
    weights, Adam state and data order are untouched."""
    n_models, window = x_all.shape[0], int(x_all.shape[2])
    b = min(batch, int(x_all.shape[1]))
    x = x_all[:, :b].transpose(1, 2).contiguous()  # [M, T, B, F]
    y, w = y_all[:, :b].contiguous(), torch.full((n_models, b), 1.0 / b)
    scratch = stacked.flat.clone()
    adam = StackedAdam(scratch, 1e-3)
    pools: dict[int, list[WorkspacePool]] = {}

    def trial(threads: int, steps: int) -> None:
        _, shares = plan_groups(n_models, group_size, threads)
        if threads not in pools:
            pools[threads] = [WorkspacePool(window, sizes) for _ in shares]

        def run(share: list[Group], worker: int) -> None:
            for _ in range(steps):
                for g0, g1 in share:
                    pool = pools[threads][worker]
                    if pool.fused:
                        pool.train_step(adam, scratch, slice(g0, g1), x[g0:g1], y[g0:g1], w[g0:g1])
                        continue
                    params = stacked.views(scratch[g0:g1])
                    ws = pool.get(g1 - g0, b)
                    _, grad = loss_and_grads(params, x[g0:g1], y[g0:g1], w[g0:g1], ws)
                    adam.step(scratch, grad, slice(g0, g1))

        run_shares(threads, shares, run)

    return trial
