"""The hand-written LSTM kernel against nn.LSTM and autograd (values and gradients)."""

from __future__ import annotations

import os

import pytest
import torch

from coincast.model.fast.batched_state import WorkspacePool
from coincast.model.fast.kernels import LayerWorkspace, gate_perm, lstm_backward, lstm_forward
from coincast.model.fast.native import native_ops, native_status
from coincast.model.fast.stacked_step import loss_and_grads
from coincast.model.fast.stacking import FlatParams, stack_params
from coincast.model.lstm import LSTMRegressor, ModelConfig

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(params=[True, False], ids=["compiled", "python"])
def native(request: pytest.FixtureRequest) -> bool:
    """Both time loops: the compiled one (lstm_native.cpp) and the Python one."""
    if request.param and native_ops() is None:
        reason = f"the compiled LSTM loop is unavailable: {native_status()}"
        if os.environ.get("CI"):  # CI has g++ and ninja: a failed build is a failure there
            pytest.fail(reason)
        pytest.skip(reason)
    return bool(request.param)


def stacked(lstms: list[torch.nn.LSTM]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    perm = gate_perm(lstms[0].hidden_size)
    w_ih = torch.stack([m.weight_ih_l0.detach()[perm] for m in lstms])
    w_hh = torch.stack([m.weight_hh_l0.detach()[perm] for m in lstms])
    bias = torch.stack([(m.bias_ih_l0 + m.bias_hh_l0).detach()[perm] for m in lstms])
    return w_ih, w_hh, bias


def test_gate_perm_is_a_permutation_of_blocks() -> None:
    perm = gate_perm(3)
    assert sorted(perm.tolist()) == list(range(12))
    # internal o, i, f, g ← PyTorch i, f, g, o
    assert perm[:3].tolist() == [9, 10, 11] and perm[3:6].tolist() == [0, 1, 2]
    assert perm[9:].tolist() == [6, 7, 8]


@pytest.mark.parametrize(
    ("m", "b", "t", "f", "u", "scale"),
    [
        (1, 4, 6, 2, 5, 0.5),
        (3, 5, 7, 3, 4, 0.5),
        (2, 9, 4, 12, 50, 0.3),  # more inputs than the compiled loop projects itself
        (2, 3, 5, 2, 9, 40.0),  # saturated gates: exp overflows, results must stay finite
    ],
)
def test_forward_and_gradients_equal_nn_lstm(
    m: int, b: int, t: int, f: int, u: int, scale: float, native: bool
) -> None:
    gen = torch.Generator().manual_seed(m * 100 + u)
    lstms = []
    for _ in range(m):
        layer = torch.nn.LSTM(f, u, batch_first=True)
        with torch.no_grad():
            for p in layer.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * scale)
        lstms.append(layer)
    x = torch.randn(m, b, t, f, generator=gen)
    dh_last = torch.randn(m, b, u, generator=gen)
    dh_seq = torch.randn(m, t, b, u, generator=gen)
    w_ih, w_hh, bias = stacked(lstms)
    hs, ws = lstm_forward(x.transpose(1, 2).contiguous(), w_ih, w_hh, bias, native=native)
    grads = lstm_backward(ws, w_ih, w_hh, dh_last, dh_seq, need_dx=True)
    assert grads.x is not None
    assert bool(torch.isfinite(hs).all()) and bool(torch.isfinite(grads.w_hh).all())
    # Pre-activations in the hundreds carry rounding of ~1e-5 from the matmul's order.
    tol = 1.0 if scale < 1 else 100.0
    perm = gate_perm(u)
    for k, layer in enumerate(lstms):
        xk = x[k].clone().requires_grad_()
        out, _ = layer(xk)  # [B, T, U]
        torch.testing.assert_close(
            hs[k, 1:], out.transpose(0, 1).detach(), atol=1e-6 * tol, rtol=1e-5 * tol
        )
        # A loss whose gradient on the outputs is dh_seq everywhere plus dh_last at the end.
        loss = (out * dh_seq[k].transpose(0, 1)).sum() + (out[:, -1] * dh_last[k]).sum()
        loss.backward()
        assert layer.weight_hh_l0.grad is not None and layer.weight_ih_l0.grad is not None
        assert layer.bias_ih_l0.grad is not None
        close = {"atol": 1e-5 * tol, "rtol": 1e-4 * tol}
        torch.testing.assert_close(grads.w_hh[k], layer.weight_hh_l0.grad[perm], **close)
        torch.testing.assert_close(grads.w_ih[k], layer.weight_ih_l0.grad[perm], **close)
        torch.testing.assert_close(grads.bias[k], layer.bias_ih_l0.grad[perm], **close)
        assert xk.grad is not None
        torch.testing.assert_close(grads.x[k], xk.grad.transpose(0, 1), **close)


def test_a_reused_workspace_gives_the_same_as_a_fresh_one(native: bool) -> None:
    gen = torch.Generator().manual_seed(3)
    m, t, b, f, u = 2, 5, 3, 2, 4
    w_ih = torch.randn(m, 4 * u, f, generator=gen)
    w_hh = torch.randn(m, 4 * u, u, generator=gen)
    bias = torch.randn(m, 4 * u, generator=gen)
    ws = LayerWorkspace(m, t, b, f, u, native=native)
    for _ in range(2):  # second round runs on buffers dirtied by the first
        x = torch.randn(m, t, b, f, generator=gen)
        dh = torch.randn(m, b, u, generator=gen)
        hs = ws.forward(x, w_ih, w_hh, bias, cache=True).clone()
        got = ws.backward(w_ih, w_hh, dh)
        hs_fresh, fresh_ws = lstm_forward(x, w_ih, w_hh, bias, native=native)
        want = lstm_backward(fresh_ws, w_ih, w_hh, dh)
        assert torch.equal(hs, hs_fresh)
        assert torch.equal(got.w_hh, want.w_hh) and torch.equal(got.bias, want.bias)


def test_stacked_model_loss_and_grads_equal_autograd_with_masks(native: bool) -> None:
    """Two layers + head, 3 models, padded rows weighted 0: the training step's maths."""
    cfg = ModelConfig(n_features=2, units=(6, 5))
    models = [LSTMRegressor(cfg, generator=torch.Generator().manual_seed(s)) for s in range(3)]
    gen = torch.Generator().manual_seed(11)
    xb = torch.randn(3, 4, 7, 2, generator=gen)
    yb = torch.randn(3, 4, generator=gen)
    counts = [4, 2, 3]  # model 1 has a short batch: rows 2, 3 are padding
    wb = torch.zeros(3, 4)
    for i, n in enumerate(counts):
        wb[i, :n] = 1.0 / n
    flat = FlatParams(stack_params(models))
    ws = WorkspacePool(7, (2, 6, 5), native=native).get(3, 4)
    loss, grad = loss_and_grads(flat.params, xb.transpose(1, 2).contiguous(), yb, wb, ws)
    grad_views = flat.views(grad)
    for i, model in enumerate(models):
        n = counts[i]
        model.zero_grad()
        want = torch.mean((model(xb[i, :n]) - yb[i, :n]) ** 2)
        want.backward()  # type: ignore[no-untyped-call]
        assert float(loss[i]) == pytest.approx(float(want.detach()), rel=1e-5)
        for k, layer in enumerate(model.lstm_layers()):
            perm = gate_perm(layer.hidden_size)
            w_ih, w_hh, b_ih, b_hh = layer.all_weights[0]
            for j, p in enumerate((w_ih, w_hh, b_ih, b_hh)):
                assert p.grad is not None
                torch.testing.assert_close(
                    grad_views[4 * k + j][i], p.grad[perm], atol=1e-5, rtol=1e-4
                )
        assert model.head.weight.grad is not None and model.head.bias.grad is not None
        torch.testing.assert_close(
            grad_views[-2][i], model.head.weight.grad[0], atol=1e-5, rtol=1e-4
        )
        torch.testing.assert_close(grad_views[-1][i], model.head.bias.grad[0], atol=1e-5, rtol=1e-4)


def test_nan_weights_give_nan_outputs_not_silent_numbers(native: bool) -> None:
    """A diverged model must show up as NaN (training stops on a non-finite loss)."""
    m, t, b, f, u = 1, 3, 2, 2, 4
    w_ih, w_hh, bias = torch.zeros(m, 4 * u, f), torch.zeros(m, 4 * u, u), torch.zeros(m, 4 * u)
    w_ih[0, 0, 0] = float("nan")  # reaches the o gate of unit 0
    hs, _ = lstm_forward(torch.ones(m, t, b, f), w_ih, w_hh, bias, native=native)
    assert bool(torch.isnan(hs[0, 1:, :, 0]).all())
