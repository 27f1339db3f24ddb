"""Many models' weights as one stacked tensor, in the kernel's gate order.

The batched trainer and the kernels see M models as one: every weight gets a leading
model axis, LSTM gate rows are reordered to the kernel's internal order (o, i, f, g; see
``coincast.model.fast.kernels.gate_perm``), and all parameters live in one [M, P] tensor so
Adam is a handful of ops for every model at once and a subset of models is one index.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from coincast.errors import DataError
from coincast.model.fast.kernels import gate_perm
from coincast.model.lstm import LSTMRegressor

__all__ = ["FlatParams", "stack_params", "unstack_params"]


def stack_params(models: Sequence[LSTMRegressor]) -> list[torch.Tensor]:
    """Stack the models' weights along a model axis, gates in the kernel's internal order.

    Returns per layer [w_ih [M,4U,In], w_hh [M,4U,U], b_ih [M,4U], b_hh [M,4U]], then
    head_w [M, U] and head_b [M]. The two biases stay separate because the sequential
    run's Adam updates each of them (with equal gradients).
    """
    first = models[0].config
    if any(m.config != first for m in models):
        raise DataError("All models trained together must share one architecture (ModelConfig).")
    params: list[torch.Tensor] = []
    n_layers = len(first.units)
    for k in range(n_layers):
        perm = gate_perm(first.units[k])
        per_model = [m.lstm_layers()[k].all_weights[0] for m in models]
        for j in range(4):
            params.append(torch.stack([w[j].detach()[perm] for w in per_model]).contiguous())
    params.append(torch.stack([m.head.weight.detach()[0] for m in models]).contiguous())
    params.append(torch.stack([m.head.bias.detach()[0] for m in models]).contiguous())
    return params


def unstack_params(models: Sequence[LSTMRegressor], params: list[torch.Tensor]) -> None:
    """Write stacked (internal-order) weights back into the models, in place."""
    with torch.no_grad():
        for k, u in enumerate(models[0].config.units):
            inv = torch.argsort(gate_perm(u))
            for i, model in enumerate(models):
                weights = model.lstm_layers()[k].all_weights[0]
                for j in range(4):
                    weights[j].copy_(params[4 * k + j][i][inv])
        for i, model in enumerate(models):
            model.head.weight[0].copy_(params[-2][i])
            model.head.bias[0].copy_(params[-1][i])


class FlatParams:
    """All parameters of M models in one [M, P] tensor, seen through per-parameter views.

    One tensor makes Adam a handful of ops for every model and parameter at once, and
    selecting a subset of models one indexing op.
    """

    def __init__(self, params: list[torch.Tensor]) -> None:
        self.shapes = [tuple(p.shape[1:]) for p in params]
        self.sizes = [max(1, int(torch.tensor(sh).prod())) if sh else 1 for sh in self.shapes]
        self.flat = torch.cat([p.reshape(p.shape[0], -1) for p in params], dim=1)
        self.params = self.views(self.flat)

    def views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        out, at = [], 0
        for shape, size in zip(self.shapes, self.sizes, strict=True):
            out.append(flat[:, at : at + size].view(flat.shape[0], *shape))
            at += size
        return out
