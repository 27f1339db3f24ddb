"""Hand-written LSTM forward and backward (BPTT) over a leading *model* axis.

Why by hand: the paper model is tiny (50 units, batch 32), so autograd's per-op
bookkeeping and oneDNN's per-call setup cost more than the arithmetic. Here each time
step is one batched matmul plus a handful of element-wise ops on ``[M, B, 4U]`` tensors;
everything that does not depend on the recurrence (input projection, activation
derivatives, weight gradients) is done for all time steps at once in large matmuls;
and M models share every op, so Python overhead is paid once per step for all of them.
A ``LayerWorkspace`` keeps its buffers and per-step views between calls, so a training
step allocates almost nothing and creates no views inside the time loop.
``tests/test_kernels.py`` checks values and gradients against ``nn.LSTM``.

Layouts (float32), model-major so that the weight gradients of all time steps are one
large matmul per model with no transposing copy (a strided copy of these buffers costs
as much as the matmul itself):

    x          [M, T, B, In]
    w_ih       [M, 4U, In]       rows in the *internal* gate order o, i, f, g
    w_hh       [M, 4U, U]        (PyTorch's order is i, f, g, o; see ``gate_perm``)
    bias       [M, 4U]           b_ih + b_hh
    hs, cs     [M, T+1, B, U]    hs[:, 0] = cs[:, 0] = 0 (initial state); cs holds 2c

A step's recurrent matmul writes into a contiguous [M, B, 4U] scratch (an in-place
batched matmul on a strided slice falls back to one small matmul per model) and the
sigmoid writes the activations back into the strided slice.

The internal order puts the three sigmoid gates side by side (one op) and i, f, g
side by side (their gradients are one broadcast multiply in the backward pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from coincast.errors import ParameterError
from coincast.model.fast.native import native_ops, native_status

__all__ = [
    "GATE_ORDER",
    "LayerGrads",
    "LayerWorkspace",
    "gate_perm",
    "lstm_backward",
    "lstm_forward",
]

_EMPTY = torch.empty(0)  # "not given" for the compiled loop's optional tensors
INLINE_INPUTS = 8  # up to this many inputs, the compiled loop projects them itself

GATE_ORDER = ("o", "i", "f", "g")  # internal; PyTorch and Keras use i, f, g, o


def gate_perm(units: int) -> torch.Tensor:
    """Row indices taking PyTorch's i, f, g, o blocks to the internal o, i, f, g order."""
    u = units
    blocks = [(3 * u, 4 * u), (0, u), (u, 2 * u), (2 * u, 3 * u)]
    return torch.cat([torch.arange(a, b) for a, b in blocks])


@dataclass
class LayerGrads:
    w_ih: torch.Tensor  # [M, 4U, In]
    w_hh: torch.Tensor  # [M, 4U, U]
    bias: torch.Tensor  # [M, 4U]
    x: torch.Tensor | None  # [M, T, B, In] (only when asked for: a lower layer needs it)


class LayerWorkspace:
    """Buffers and per-step views for one layer at one shape (M, T, B, In, U).

    A forward pass fills the buffers; the backward pass reads them, so the two calls
    must alternate on a workspace (training does exactly that).
    """

    def __init__(
        self,
        m: int,
        t_len: int,
        b: int,
        n_in: int,
        u: int,
        *,
        backward: bool = True,
        parent: LayerWorkspace | None = None,
        native: bool | None = None,
    ) -> None:
        """``parent``: a workspace for at least m models at the same (T, B, In, U) whose
        buffers this one uses (their first m models), so a subset of models needs no
        memory of its own. ``native``: use the compiled time loop (None: when it is
        available; False: the Python loop below, e.g. to compare the two)."""
        self.shape = (m, t_len, b, n_in, u)
        self.can_backward = backward
        self.ops: Any
        if parent is not None:
            self.ops = parent.ops
        elif native is False:
            self.ops = None
        else:
            self.ops = native_ops()
            if native and self.ops is None:
                raise RuntimeError(f"the compiled LSTM loop is unavailable: {native_status()}")
        u4 = 4 * u
        n = t_len if backward else 0  # backward-only buffers stay empty for prediction
        if parent is not None:
            assert parent.shape[1:] == self.shape[1:] and parent.shape[0] >= m
            assert parent.can_backward or not backward

        def buf(name: str, *shape: int, fill: float | None = None) -> torch.Tensor:
            if parent is not None:
                parent_buf: torch.Tensor = getattr(parent, name)
                return parent_buf[:m]
            if fill is None:
                return torch.empty(m, *shape)
            return torch.full((m, *shape), fill)

        self.acts = buf("acts", t_len, b, u4)  # input projections, then activations
        self.scratch = buf("scratch", b, u4)  # one step's pre-activations
        self.hs = buf("hs", t_len + 1, b, u, fill=0.0)  # hs[:, 0] stays 0
        self.cs = buf("cs", t_len + 1, b, u, fill=0.0)
        self.tc = buf("tc", t_len, b, u)  # tanh(c_t)
        self.minus_one, self.minus_two = torch.tensor(-1.0), torch.tensor(-2.0)
        self.x: torch.Tensor | None = None
        n_py = 0 if self.ops is not None else n  # buffers only the Python loop uses
        self.dsig = buf("dsig", n_py, b, 3 * u)  # s (1 - s) of the sigmoid gates
        self.p_o = buf("p_o", n, b, u)  # d pre_o / d h = tanh(c) o (1 - o)
        # d pre_(i, f, g) / d c: g i(1-i), c_prev f(1-f), i (1-g^2)
        self.ifg = buf("ifg", n, b, 3 * u)
        self.dc_dh = buf("dc_dh", n, b, u)  # d c / d h = o (1 - tanh(c)^2)
        self.dg = buf("dg", n, b, u4)  # d pre-activations
        self.ones = buf("ones", n_py, b, u, fill=1.0)
        self.dh = buf("dh", b, u)
        self.dc = buf("dc", b, u)
        a = self.acts
        n_views = 0 if self.ops is not None else t_len  # the compiled loop needs no views
        self.steps = [
            _Step(
                a=a[:, t],
                o=a[:, t, :, :u],
                i=a[:, t, :, u : 2 * u],
                f=a[:, t, :, 2 * u : 3 * u],
                g=a[:, t, :, 3 * u :],
                c=self.cs[:, t + 1],
                c_prev=self.cs[:, t],
                h=self.hs[:, t + 1],
                h_prev=self.hs[:, t],
                tc=self.tc[:, t],
            )
            for t in range(n_views)
        ]
        d = self.dg
        self.back_steps = [
            _BackStep(
                d=d[:, t],
                d_o=d[:, t, :, :u],
                d_ifg=d[:, t, :, u:].view(m, b, 3, u),
                ifg=self.ifg[:, t].view(m, b, 3, u),
                dc_dh=self.dc_dh[:, t],
                p_o=self.p_o[:, t],
            )
            for t in range(min(n, n_views))
        ]

    def forward(
        self,
        x: torch.Tensor,
        w_ih: torch.Tensor,
        w_hh: torch.Tensor,
        bias: torch.Tensor,
        *,
        cache: bool,
    ) -> torch.Tensor:
        """x [M, T, B, In] → hs [M, T+1, B, U] (a view of the workspace; copy to keep)."""
        m, t_len, b, n_in, u = self.shape
        if cache and not self.can_backward:
            raise ParameterError("this workspace was made for prediction only")
        self.x = x
        if self.ops is not None and n_in <= INLINE_INPUTS:
            x = self.x = x.contiguous()
            w_ih_t = w_ih.transpose(1, 2).contiguous()
            args = (x, w_ih_t, bias.contiguous())  # the compiled loop projects the inputs
        else:
            # Input projection for every time step in one matmul: [M, T*B, In] @ [M, In, 4U].
            torch.baddbmm(
                bias.unsqueeze(1),
                x.reshape(m, t_len * b, n_in),
                w_ih.transpose(1, 2),
                out=self.acts.view(m, t_len * b, 4 * u),
            )
            args = (_EMPTY, _EMPTY, _EMPTY)
        if self.ops is not None:
            w_hh_t = w_hh.transpose(1, 2).contiguous()
            self.ops.forward(
                self.acts,
                w_hh_t,
                self.hs,
                self.cs,
                self.tc,
                self.scratch,
                self.p_o,
                self.ifg,
                self.dc_dh,
                *args,
                cache,
            )
            return self.hs
        # tanh(z) = 2 sigmoid(2z) - 1: PyTorch's CPU tanh is ~3x slower per element than
        # its sigmoid, so the g block's pre-activations are doubled (in the projection
        # and in a copy of w_hh) and all four gates go through one sigmoid.
        self.acts[..., 3 * u :].mul_(2.0)
        w_hh_t = w_hh.transpose(1, 2).contiguous()  # [M, U, 4U]
        w_hh_t[..., 3 * u :].mul_(2.0)
        minus_one, minus_two, scratch = self.minus_one, self.minus_two, self.scratch
        # The g block holds G = 2g and cs holds C = 2c: then C = f C_prev + i G, and
        # tanh(c) = 2 sigmoid(C) - 1 needs no doubling op. Eight ops per step.
        for s in self.steps:
            torch.baddbmm(s.a, s.h_prev, w_hh_t, out=scratch)
            torch.sigmoid(scratch, out=s.a)
            torch.add(minus_two, s.g, alpha=4.0, out=s.g)  # G = 2 tanh(z_g)
            torch.mul(s.f, s.c_prev, out=s.c)
            s.c.addcmul_(s.i, s.g)  # C = 2c
            torch.sigmoid(s.c, out=s.tc)
            torch.add(minus_one, s.tc, alpha=2.0, out=s.tc)  # tanh(c)
            torch.mul(s.o, s.tc, out=s.h)
        if cache:
            # Everything the backward pass multiplies by, for all steps at once, with the
            # activation derivatives folded in, so a backward step is five ops.
            acts, ones = self.acts, self.ones
            o, i = acts[..., :u], acts[..., u : 2 * u]
            big_g, c_prev = acts[..., 3 * u :], self.cs[:, :t_len]
            dsig = self.dsig  # s (1 - s) for o, i, f
            torch.addcmul(
                acts[..., : 3 * u], acts[..., : 3 * u], acts[..., : 3 * u], value=-1.0, out=dsig
            )
            torch.mul(self.tc, dsig[..., :u], out=self.p_o)  # d pre_o / d h
            torch.mul(big_g, dsig[..., u : 2 * u], out=self.ifg[..., :u])
            torch.mul(c_prev, dsig[..., 2 * u :], out=self.ifg[..., u : 2 * u])
            self.ifg[..., : 2 * u].mul_(0.5)  # G = 2g and C = 2c
            one_minus_g2 = self.ifg[..., 2 * u :]
            torch.addcmul(ones, big_g, big_g, value=-0.25, out=one_minus_g2)  # 1 - g^2
            one_minus_g2.mul_(i)
            torch.addcmul(ones, self.tc, self.tc, value=-1.0, out=self.dc_dh)
            self.dc_dh.mul_(o)
        return self.hs

    def backward(
        self,
        w_ih: torch.Tensor,
        w_hh: torch.Tensor,
        dh_last: torch.Tensor | None,
        dh_seq: torch.Tensor | None = None,
        *,
        need_dx: bool = False,
    ) -> LayerGrads:
        """Backpropagation through time after ``forward(..., cache=True)``.

        dh_last: [M, B, U] gradient on the last hidden state (the head's input);
        dh_seq: [M, T, B, U] gradient on every step's output (from the layer above).
        """
        assert self.x is not None, "call forward(cache=True) first"
        dh, dc = self.dh, self.dc
        if dh_last is not None:
            dh.copy_(dh_last)
        else:
            dh.zero_()
        dc.zero_()
        w_hh_c = w_hh.contiguous()
        m, t_len, b, n_in, u = self.shape
        d_input: tuple[torch.Tensor, torch.Tensor] | None = None
        if self.ops is not None:
            seq = dh_seq.contiguous() if dh_seq is not None else _EMPTY
            args = (_EMPTY, _EMPTY, _EMPTY)
            if n_in <= INLINE_INPUTS:  # input-weight and bias gradients summed in the loop
                d_input = (torch.zeros(m, n_in, 4 * u), torch.zeros(m, 4 * u))
                args = (self.x, *d_input)
            self.ops.backward(
                self.acts, self.p_o, self.ifg, self.dc_dh, w_hh_c, dh, dc, seq, self.dg, *args
            )
        else:
            self._backward_loop(w_hh_c, dh_seq)
        return self._weight_grads(w_ih, need_dx, d_input)

    def _backward_loop(self, w_hh_c: torch.Tensor, dh_seq: torch.Tensor | None) -> None:
        m, t_len, b, _, u = self.shape
        dh, dc = self.dh, self.dc
        dc4 = dc.view(m, b, 1, u)
        for t in range(t_len - 1, -1, -1):
            s, q = self.steps[t], self.back_steps[t]
            if dh_seq is not None:
                dh.add_(dh_seq[:, t])
            torch.mul(dh, q.p_o, out=q.d_o)
            dc.addcmul_(dh, q.dc_dh)
            torch.mul(dc4, q.ifg, out=q.d_ifg)
            dc.mul_(s.f)
            if t > 0:
                torch.bmm(q.d, w_hh_c, out=dh)

    def _weight_grads(
        self,
        w_ih: torch.Tensor,
        need_dx: bool,
        d_input: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> LayerGrads:
        """d_input: (d_w_ih transposed [M, In, 4U], d_bias) when already summed."""
        m, t_len, b, n_in, u = self.shape
        x = self.x
        assert x is not None
        # Weight gradients for all steps at once: [M, 4U, T*B] @ [M, T*B, U].
        dg = self.dg.view(m, t_len * b, 4 * u)
        d_whh = torch.bmm(dg.transpose(1, 2), self.hs[:, :t_len].reshape(m, t_len * b, u))
        if d_input is not None:
            d_wih, d_bias = d_input[0].transpose(1, 2), d_input[1]
        else:
            d_wih = torch.bmm(dg.transpose(1, 2), x.reshape(m, t_len * b, n_in))
            d_bias = dg.sum(dim=1)
        dx = torch.bmm(dg, w_ih).view(m, t_len, b, n_in) if need_dx else None
        return LayerGrads(w_ih=d_wih, w_hh=d_whh, bias=d_bias, x=dx)


@dataclass
class _Step:
    """Views of the workspace for one time step (made once, reused every call)."""

    a: torch.Tensor
    o: torch.Tensor
    i: torch.Tensor
    f: torch.Tensor
    g: torch.Tensor
    c: torch.Tensor
    c_prev: torch.Tensor
    h: torch.Tensor
    h_prev: torch.Tensor
    tc: torch.Tensor


@dataclass
class _BackStep:
    """The backward pass's views for one time step."""

    d: torch.Tensor
    d_o: torch.Tensor
    d_ifg: torch.Tensor
    ifg: torch.Tensor
    dc_dh: torch.Tensor
    p_o: torch.Tensor


def lstm_forward(
    x: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    bias: torch.Tensor,
    *,
    cache: bool = True,
    native: bool | None = None,
) -> tuple[torch.Tensor, LayerWorkspace]:
    """One-off forward pass: (hs [M, T+1, B, U], the workspace to call ``backward`` on)."""
    m, t_len, b, n_in = x.shape
    ws = LayerWorkspace(m, t_len, b, n_in, w_hh.shape[2], backward=cache, native=native)
    return ws.forward(x, w_ih, w_hh, bias, cache=cache), ws


def lstm_backward(
    ws: LayerWorkspace,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    dh_last: torch.Tensor | None,
    dh_seq: torch.Tensor | None = None,
    *,
    need_dx: bool = False,
) -> LayerGrads:
    return ws.backward(w_ih, w_hh, dh_last, dh_seq, need_dx=need_dx)
