"""One step of M stacked models: forward, prediction, and the loss's gradients.

The maths only (no optimizer, no data order): ``coincast.model.fast.batched`` drives it. Each
layer runs on a ``LayerWorkspace`` of ``coincast.model.fast.kernels``; the head is
Dense(1) as in ``LSTMRegressor``. Tested against autograd in ``tests/test_kernels.py``.
"""

from __future__ import annotations

import torch

from coincast.model.fast.kernels import LayerWorkspace, lstm_forward

__all__ = ["forward_stacked", "loss_and_grads", "predict_stacked"]


def forward_stacked(
    params: list[torch.Tensor],
    x: torch.Tensor,
    workspaces: list[LayerWorkspace] | None,
    *,
    cache: bool,
) -> tuple[torch.Tensor, list[LayerWorkspace]]:
    """x [M, T, B, F] → predictions [M, B] and the per-layer workspaces (for backward)."""
    n_layers = (len(params) - 2) // 4
    used: list[LayerWorkspace] = []
    h = x
    for k in range(n_layers):
        w_ih, w_hh, b_ih, b_hh = params[4 * k : 4 * k + 4]
        if workspaces is None:
            hs, ws = lstm_forward(h, w_ih, w_hh, b_ih + b_hh, cache=cache)
        else:
            ws = workspaces[k]
            hs = ws.forward(h, w_ih, w_hh, b_ih + b_hh, cache=cache)
        used.append(ws)
        h = hs[:, 1:]
    last = h[:, -1]  # [M, B, U]
    pred = torch.baddbmm(params[-1].view(-1, 1, 1), last, params[-2].unsqueeze(-1)).squeeze(-1)
    return pred, used


def predict_stacked(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """x [M, N, T, F] → [M, N], no gradients, chunked over N to bound memory (~16 MB)."""
    m, _, t_len, _ = x.shape
    widest = max(p.shape[1] for p in params[1:-2:4])  # 4U of the widest layer
    chunk = max(16, (4 << 20) // (m * t_len * widest))
    outs = []
    with torch.no_grad():
        for i in range(0, x.shape[1], chunk):
            xc = x[:, i : i + chunk].transpose(1, 2).contiguous()
            outs.append(forward_stacked(params, xc, None, cache=False)[0])
    return torch.cat(outs, dim=1)


def loss_and_grads(
    params: list[torch.Tensor],
    x: torch.Tensor,
    yb: torch.Tensor,
    wb: torch.Tensor,
    workspaces: list[LayerWorkspace],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted squared error per model ([M], sum_b wb·err²) and its flat gradient [M, P].

    x [M, T, B, F] (time-major per model), yb/wb [M, B]; wb is 1/len for real rows, 0
    for padding, so each model's loss is the mean over its own batch, as in ``train_model``.
    """
    m = x.shape[0]
    pred, used = forward_stacked(params, x, workspaces, cache=True)
    err = pred - yb
    loss = (err * err * wb).sum(dim=1)
    dpred = 2.0 * err * wb  # [M, B]
    n_layers = len(used)
    last_h = used[-1].hs[:, -1]
    grads: list[torch.Tensor] = [torch.empty(0)] * len(params)
    grads[-2] = torch.bmm(dpred.unsqueeze(1), last_h).squeeze(1)  # [M, U]
    grads[-1] = dpred.sum(dim=1)
    dh_last: torch.Tensor | None = dpred.unsqueeze(-1) * params[-2].unsqueeze(1)  # [M, B, U]
    dh_seq: torch.Tensor | None = None
    for k in range(n_layers - 1, -1, -1):
        w_ih, w_hh = params[4 * k], params[4 * k + 1]
        g = used[k].backward(w_ih, w_hh, dh_last, dh_seq, need_dx=k > 0)
        grads[4 * k], grads[4 * k + 1] = g.w_ih, g.w_hh
        grads[4 * k + 2] = grads[4 * k + 3] = g.bias
        dh_last, dh_seq = None, g.x
    return loss, torch.cat([g.reshape(m, -1) for g in grads], dim=1)
