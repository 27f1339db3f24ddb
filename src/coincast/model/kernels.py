"""Hand-written LSTM forward and backward (BPTT) over a leading *model* axis.

Why by hand: the paper model is tiny (50 units, batch 32), so autograd's per-op
bookkeeping and oneDNN's per-call setup cost more than the arithmetic. Here each time
step is one batched matmul plus a handful of element-wise ops on ``[M, B, 4U]`` tensors,
everything that does not depend on the recurrence (input projection, the activation
derivatives, the weight gradients) is done for all time steps at once in large
matmuls, and M models share every op, so Python overhead is paid once per step for all
of them. ``tests/test_kernels.py`` checks values and gradients against ``nn.LSTM``.

Layouts (all float32, contiguous):

    x          [M, T, B, In]     time-major per model, so a step's slice is one block
    w_ih       [M, 4U, In]       rows in the *internal* gate order o, i, f, g
    w_hh       [M, 4U, U]        (PyTorch's order is i, f, g, o; see ``GATE_ORDER``)
    bias       [M, 4U]           b_ih + b_hh
    hs, cs     [M, T+1, B, U]    hs[:, 0] = cs[:, 0] = 0 (initial state)

The internal order puts the three sigmoid gates side by side (one op) and i, f, g
side by side (their gradients are one broadcast multiply in the backward pass).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["GATE_ORDER", "LayerCache", "LayerGrads", "gate_perm", "lstm_backward", "lstm_forward"]

GATE_ORDER = ("o", "i", "f", "g")  # internal; PyTorch and Keras use i, f, g, o


def gate_perm(units: int) -> torch.Tensor:
    """Row indices taking PyTorch's i, f, g, o blocks to the internal o, i, f, g order."""
    u = units
    return torch.cat(
        [
            torch.arange(3 * u, 4 * u),
            torch.arange(0, u),
            torch.arange(u, 2 * u),
            torch.arange(2 * u, 3 * u),
        ]
    )


@dataclass
class LayerCache:
    """What the backward pass needs from the forward pass of one layer."""

    x: torch.Tensor  # [M, T, B, In]
    hs: torch.Tensor  # [M, T+1, B, U]
    deriv: torch.Tensor  # [M, T, B, 4U] d act / d pre-activation
    ifg: torch.Tensor  # [M, T, B, 3U] the factors of dc in d(i, f, g): g, c_prev, i
    tc: torch.Tensor  # [M, T, B, U] tanh(c_t)
    dc_dh: torch.Tensor  # [M, T, B, U] o_t * (1 - tanh(c_t)^2)
    f: torch.Tensor  # [M, T, B, U] forget gate


@dataclass
class LayerGrads:
    w_ih: torch.Tensor  # [M, 4U, In]
    w_hh: torch.Tensor  # [M, 4U, U]
    bias: torch.Tensor  # [M, 4U]
    x: torch.Tensor | None  # [M, T, B, In] (only when asked for: a lower layer needs it)


def lstm_forward(
    x: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    bias: torch.Tensor,
    *,
    cache: bool = True,
) -> tuple[torch.Tensor, LayerCache | None]:
    """One LSTM layer over all steps → (hs [M, T+1, B, U], cache for the backward pass)."""
    m, t_len, b, n_in = x.shape
    u4 = w_hh.shape[1]
    u = u4 // 4
    # Input projection for every time step in one matmul: [M, T*B, In] @ [M, In, 4U].
    acts = torch.baddbmm(bias.unsqueeze(1), x.reshape(m, t_len * b, n_in), w_ih.transpose(1, 2))
    acts = acts.view(m, t_len, b, u4)
    hs = x.new_zeros(m, t_len + 1, b, u)
    cs = x.new_zeros(m, t_len + 1, b, u)
    tc = x.new_empty(m, t_len, b, u)
    w_hh_t = w_hh.transpose(1, 2)  # [M, U, 4U]
    for t in range(t_len):
        a = acts[:, t]  # [M, B, 4U], pre-activations in, activations out (in place)
        a.baddbmm_(hs[:, t], w_hh_t)
        a[..., : 3 * u].sigmoid_()
        a[..., 3 * u :].tanh_()
        c = cs[:, t + 1]
        torch.mul(a[..., 2 * u : 3 * u], cs[:, t], out=c)  # f * c_prev
        c.addcmul_(a[..., u : 2 * u], a[..., 3 * u :])  # + i * g
        torch.tanh(c, out=tc[:, t])
        torch.mul(a[..., :u], tc[:, t], out=hs[:, t + 1])  # h = o * tanh(c)
    if not cache:
        return hs, None
    # Everything the backward pass needs that does not depend on the recurrence,
    # computed for all steps at once.
    sig = acts[..., : 3 * u]
    g = acts[..., 3 * u :]
    deriv = torch.empty_like(acts)
    torch.addcmul(sig, sig, sig, value=-1.0, out=deriv[..., : 3 * u])  # s (1 - s)
    torch.addcmul(torch.ones_like(g), g, g, value=-1.0, out=deriv[..., 3 * u :])  # 1 - g^2
    ifg = torch.cat([g, cs[:, :t_len], acts[..., u : 2 * u]], dim=-1)  # multiply dc by these
    dc_dh = acts[..., :u] * (1.0 - tc * tc)
    f = acts[..., 2 * u : 3 * u].contiguous()
    return hs, LayerCache(x=x, hs=hs, deriv=deriv, ifg=ifg, tc=tc, dc_dh=dc_dh, f=f)


def lstm_backward(
    cache: LayerCache,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    dh_last: torch.Tensor | None,
    dh_seq: torch.Tensor | None = None,
    *,
    need_dx: bool = False,
) -> LayerGrads:
    """Backpropagation through time for one layer.

    dh_last: [M, B, U] gradient on the last hidden state (the head's input);
    dh_seq: [M, T, B, U] gradient on every step's output (from the layer above).
    """
    x, hs = cache.x, cache.hs
    m, t_len, b, n_in = x.shape
    u4, u = w_hh.shape[1], w_hh.shape[2]
    dg = x.new_empty(m, t_len, b, u4)  # d pre-activations, all steps
    dh = x.new_zeros(m, b, u)
    if dh_last is not None:
        dh += dh_last
    dc = x.new_zeros(m, b, u)
    for t in range(t_len - 1, -1, -1):
        if dh_seq is not None:
            dh = dh + dh_seq[:, t]
        d = dg[:, t]  # [M, B, 4U]
        torch.mul(dh, cache.tc[:, t], out=d[..., :u])  # d o
        dc.addcmul_(dh, cache.dc_dh[:, t])
        torch.mul(
            dc.unsqueeze(2),
            cache.ifg[:, t].view(m, b, 3, u),
            out=d[..., u:].view(m, b, 3, u),
        )  # d i = dc g, d f = dc c_prev, d g = dc i
        dc.mul_(cache.f[:, t])
        d.mul_(cache.deriv[:, t])
        if t > 0:
            dh = torch.bmm(d, w_hh)
    # Weight gradients for all steps at once: [M, U, T*B] @ [M, T*B, 4U].
    dg_flat = dg.view(m, t_len * b, u4)
    d_whh = torch.bmm(dg_flat.transpose(1, 2), hs[:, :t_len].reshape(m, t_len * b, u))
    d_wih = torch.bmm(dg_flat.transpose(1, 2), x.reshape(m, t_len * b, n_in))
    d_bias = dg_flat.sum(dim=1)
    dx = torch.bmm(dg_flat, w_ih).view(m, t_len, b, n_in) if need_dx else None
    return LayerGrads(w_ih=d_wih, w_hh=d_whh, bias=d_bias, x=dx)
