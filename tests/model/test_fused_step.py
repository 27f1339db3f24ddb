"""The compiled fused training step (lstm_step.cpp) equals the step it replaces.

The reference is the Python kernel's loss_and_grads followed by StackedAdam's tensor-op
update (both tested against autograd elsewhere). Covered: several models at once, a
batch that is not a multiple of 4 with padded rows (weight 0), several steps (Adam's
moments and bias corrections), and rows split between two threads (partial gradients
summed) against one thread.
"""

from __future__ import annotations

import pytest
import torch

from coincast.model.fast.batched_state import StackedAdam, WorkspacePool
from coincast.model.fast.kernels import LayerWorkspace
from coincast.model.fast.native import native_ops, native_status
from coincast.model.fast.stacked_step import loss_and_grads
from coincast.model.fast.stacking import FlatParams, stack_params
from coincast.model.fast.threads import using_threads
from coincast.model.lstm import LSTMRegressor, ModelConfig

pytestmark = pytest.mark.skipif(
    native_ops() is None, reason=f"the compiled LSTM loop is unavailable: {native_status()}"
)

T, F = 12, 2


def setup(m: int, b: int, units: int, seed: int) -> tuple[FlatParams, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    cfg = ModelConfig(n_features=F, units=(units,))
    models = [LSTMRegressor(cfg, generator=g) for _ in range(m)]
    stacked = FlatParams(stack_params(models))
    x = torch.rand(m, T, b, F, generator=g)
    y = torch.rand(m, b, generator=g)
    w = torch.full((m, b), 1.0 / b)
    w[:, b - 3 :] = 0.0  # padding rows: they must not move the weights
    x[:, :, b - 3 :] = 0.0
    return stacked, [x, y, w]


def reference_steps(stacked: FlatParams, data: list[torch.Tensor], steps: int) -> list[float]:
    x, y, w = data
    m, _, b, _ = x.shape
    units = stacked.shapes[1][1]
    adam = StackedAdam(stacked.flat, 1e-2, native=False)
    ws = [LayerWorkspace(m, T, b, F, units, native=False)]
    losses = []
    for _ in range(steps):
        loss, grad = loss_and_grads(stacked.params, x, y, w, ws)
        adam.step(stacked.flat, grad, slice(0, m))
        losses.append(float(loss.sum()))
    return losses


def fused_steps(
    stacked: FlatParams, data: list[torch.Tensor], steps: int, threads: int
) -> tuple[list[float], StackedAdam]:
    x, y, w = data
    m = x.shape[0]
    units = stacked.shapes[1][1]
    pool = WorkspacePool(T, (F, units))
    assert pool.fused
    adam = StackedAdam(stacked.flat, 1e-2)
    losses = []
    with using_threads(threads):
        for _ in range(steps):
            losses.append(float(pool.train_step(adam, stacked.flat, slice(0, m), x, y, w).sum()))
    return losses, adam


@pytest.mark.parametrize(("m", "b", "units"), [(3, 13, 50), (1, 32, 13), (2, 22, 8)])
def test_fused_steps_equal_the_python_kernel_and_tensor_adam(m: int, b: int, units: int) -> None:
    ref, data = setup(m, b, units, seed=m + b)
    fused = FlatParams([p.clone() for p in ref.params])
    start = ref.flat.clone()
    ref_losses = reference_steps(ref, data, steps=5)
    fused_losses, _ = fused_steps(fused, data, steps=5, threads=1)
    assert fused_losses == pytest.approx(ref_losses, rel=1e-5)
    assert float((fused.flat - ref.flat).abs().max()) < 1e-5
    assert float((ref.flat - start).abs().max()) > 1e-3  # the weights did move


def test_rows_split_between_threads_give_the_one_thread_result() -> None:
    """One model, 32 rows, 2 threads: each thread takes 16 rows for the whole step and
    their gradients are summed; only the order of the additions differs."""
    one, data = setup(1, 32, 50, seed=7)
    two = FlatParams([p.clone() for p in one.params])
    losses_1, adam_1 = fused_steps(one, data, steps=4, threads=1)
    losses_2, adam_2 = fused_steps(two, data, steps=4, threads=2)
    assert losses_2 == pytest.approx(losses_1, rel=1e-6)
    assert float((one.flat - two.flat).abs().max()) < 1e-6
    assert float((adam_1.exp_avg_sq - adam_2.exp_avg_sq).abs().max()) < 1e-9


def test_bad_shapes_are_refused_with_a_message() -> None:
    stacked, (x, y, w) = setup(1, 8, 8, seed=1)
    pool = WorkspacePool(T, (F, 8))
    adam = StackedAdam(stacked.flat, 1e-2)
    with pytest.raises(RuntimeError, match=r"y, w: \[M, B\]"):
        pool.train_step(adam, stacked.flat, slice(0, 1), x, y[:, :4], w)
