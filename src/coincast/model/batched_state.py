"""Per-step state of the batched trainer: stacked Adam, kernel workspaces, padded data.

Kept apart from ``coincast.model.batched`` (the training loop) because each piece has
its own invariant: Adam keeps every model's own step count and learning rate; the pool
hands a subset of models the first rows of one set of buffers, so memory stays bounded
by one workspace per batch size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from coincast.model.kernels import LayerWorkspace
from coincast.model.train import ADAM_EPS

__all__ = ["BETA1", "BETA2", "StackedAdam", "WorkspacePool", "pad_stack"]

BETA1, BETA2 = 0.9, 0.999  # Adam defaults (PyTorch and Keras agree)


class StackedAdam:
    """Adam over flat stacked parameters with per-model step counts and learning rates.

    Same update as ``torch.optim.Adam`` (single-tensor path): bias-corrected step size
    lr / (1 - b1^t) and denominator sqrt(v) / sqrt(1 - b2^t) + eps.
    """

    def __init__(self, flat: torch.Tensor, lr: float) -> None:
        m = flat.shape[0]
        self.exp_avg = torch.zeros_like(flat)
        self.exp_avg_sq = torch.zeros_like(flat)
        self.steps = torch.zeros(m, dtype=torch.float64)
        self.lr = torch.full((m,), lr, dtype=torch.float64)

    def step(self, flat: torch.Tensor, grad: torch.Tensor, rows: slice | torch.Tensor) -> None:
        """Update the models ``rows`` (a slice: in place on views; indices: gather/scatter)."""
        steps = self.steps[rows] + 1
        step_size = (self.lr[rows] / (1 - BETA1**steps)).float().unsqueeze(1)
        bc2_sqrt = torch.sqrt(1 - BETA2**steps).float().unsqueeze(1)
        m, v = self.exp_avg[rows], self.exp_avg_sq[rows]
        m.lerp_(grad, 1 - BETA1)
        v.mul_(BETA2).addcmul_(grad, grad, value=1 - BETA2)
        denom = v.sqrt().div_(bc2_sqrt).add_(ADAM_EPS)
        update = (m / denom).mul_(step_size)
        self.steps[rows] = steps
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
