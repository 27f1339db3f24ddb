"""Per-step state of the batched trainer: stacked Adam, kernel workspaces, padded data,
and the loop over one epoch's steps that a worker thread runs.

Kept apart from ``coincast.model.fast.batched`` (the training loop) because each piece has
its own invariant: Adam keeps every model's own step count and learning rate; the pool
hands a subset of models the first rows of one set of buffers, so memory stays bounded
by one workspace per batch size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from coincast.model.fast.kernels import LayerWorkspace
from coincast.model.fast.native import native_ops
from coincast.model.fast.stacked_step import loss_and_grads
from coincast.model.fast.stacking import FlatParams
from coincast.model.schedule import ADAM_EPS, CancelToken

__all__ = [
    "BETA1",
    "BETA2",
    "EpochBatches",
    "SharedState",
    "StackedAdam",
    "WorkspacePool",
    "pad_stack",
    "run_steps",
]

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
        self.steps = torch.zeros(m, dtype=torch.float64)
        self.lr = torch.full((m,), lr, dtype=torch.float64)
        self.ops = None if native is False else native_ops()

    def step(self, flat: torch.Tensor, grad: torch.Tensor, rows: slice | torch.Tensor) -> None:
        """Update the models ``rows`` (a slice: in place on views; indices: gather/scatter)."""
        steps = self.steps[rows] + 1
        step_size = (self.lr[rows] / (1 - BETA1**steps)).float()
        bc2_sqrt = torch.sqrt(1 - BETA2**steps).float()
        self.steps[rows] = steps
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
    of models (some finished their epoch or stopped) borrows the first rows of it."""

    def __init__(self, window: int, sizes: tuple[int, ...], native: bool | None = None) -> None:
        self.window, self.sizes, self.native = window, sizes, native
        self.base: dict[int, list[LayerWorkspace]] = {}  # by batch size: the widest so far
        self.views: dict[tuple[int, int], list[LayerWorkspace]] = {}

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
