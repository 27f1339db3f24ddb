"""The fast iterative forecast: every window's LSTM advanced day by day as one batch.

The reference (``forecast.predict_paths``) runs the network on the whole window once per
forecast day: 30 days ahead with a 30-day window is 30 calls of 30 LSTM steps, each call
starting from a zero state on the window's first day. Carrying one (h, c) forward a day at
a time would *not* give the same numbers: the window slides, so every forecast day's
network has seen a different first day and starts from zero there; a carried state has
seen every earlier day too. What does hold exactly is this: a day's input features do not
depend on which window reads them (the scaler is fixed and the log return only needs the
previous day's price), so on each calendar day every window that contains it takes its
next step with the same input. Walking the calendar instead of the windows gives the same
arithmetic as the reference (window j still starts from zero on its own first day), in
``window + horizon - 1`` batched steps instead of ``window × horizon`` tiny ones, with no
torch dispatch: a 50-unit LSTM at batch 1 is dominated by per-call overhead, not FLOPs.
The network runs in float32 like the reference, so results agree to float32 rounding
(summation order differs), which ``tests/forecast/test_wavefront.py`` checks on every preset.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from coincast.errors import ParameterError
from coincast.forecast.forecast import ForecastSpec, append_day
from coincast.model.lstm import LSTMRegressor
from coincast.prep.windows import feature_matrix

__all__ = ["predict_paths_fast"]


@dataclass(frozen=True)
class _Layer:
    """One LSTM layer as float32 arrays, gates i, f, g, o with i, f, o pre-halved.

    σ(z) = (1 + tanh(z/2)) / 2, so halving the i, f, o rows (exact in binary floating
    point) lets one tanh over all 4u pre-activations serve every gate.
    """

    w_ih: NDArray[np.float32]  # [in, 4u] (transposed: inputs are row vectors)
    w_hh: NDArray[np.float32]  # [u, 4u]
    bias: NDArray[np.float32]  # [4u]
    units: int


@dataclass(frozen=True)
class _Weights:
    versions: tuple[int, ...]  # torch's in-place version counters when these were copied
    layers: tuple[_Layer, ...]
    head_w: NDArray[np.float32]  # [u_last]
    head_b: float


# Copies of each live model's weights, refreshed when a parameter changes in place
# (train further); weak keys, so a dropped model takes its copy with it.
_CACHE: weakref.WeakKeyDictionary[LSTMRegressor, _Weights] = weakref.WeakKeyDictionary()


def _weights(model: LSTMRegressor) -> _Weights:
    params = list(model.parameters())
    versions = tuple(p._version for p in params)
    hit = _CACHE.get(model)
    if hit is not None and hit.versions == versions:
        return hit
    layers = []
    with torch.no_grad():
        for layer in model.lstm_layers():
            u = layer.hidden_size
            w_ih, w_hh, b_ih, b_hh = (t.detach().float().numpy() for t in layer.all_weights[0])
            half = np.ones(4 * u, dtype=np.float32)
            half[: 2 * u] = 0.5  # i, f
            half[3 * u :] = 0.5  # o
            layers.append(
                _Layer(
                    np.ascontiguousarray((w_ih * half[:, None]).T),
                    np.ascontiguousarray((w_hh * half[:, None]).T),
                    (b_ih + b_hh) * half,
                    u,
                )
            )
        head_w = model.head.weight.detach().float().numpy()[0].copy()
        head_b = float(model.head.bias.detach().float().numpy()[0])
    out = _Weights(versions, tuple(layers), head_w, head_b)
    _CACHE[model] = out
    return out


def _step(
    layer: _Layer, x_proj: NDArray[np.float32], h: NDArray[np.float32], c: NDArray[np.float32]
) -> None:
    """One LSTM step for a block of windows, in place: x_proj [B, n|1, 4u] (input part,
    bias included), h, c [B, n, u]."""
    u = layer.units
    t = np.tanh(x_proj + h @ layer.w_hh)  # [B, n, 4u]
    sig = 0.5 + 0.5 * t
    c *= sig[..., u : 2 * u]
    c += sig[..., :u] * t[..., 2 * u : 3 * u]
    np.multiply(sig[..., 3 * u :], np.tanh(c), out=h)


def predict_paths_fast(
    model: LSTMRegressor,
    spec: ForecastSpec,
    price: NDArray[np.float64],
    volume: NDArray[np.float64],
    market_cap: NDArray[np.float64],
    horizon: int,
) -> NDArray[np.float64]:
    """Same contract and results as ``forecast.predict_paths`` (see the module doc).

    price/volume/market_cap: [B, L] USD with L ≥ window + 1 → [B, horizon] USD.
    """
    w = spec.window
    batch, length = price.shape
    if length < w + 1:
        raise ParameterError(f"need at least {w + 1} days per origin, got {length}")
    weights = _weights(model)
    buf_len = w + 1 + horizon
    p = np.empty((batch, buf_len))
    v = np.empty((batch, buf_len))
    m = np.empty((batch, buf_len))
    p[:, : w + 1] = price[:, -(w + 1) :]
    v[:, : w + 1] = volume[:, -(w + 1) :]
    m[:, : w + 1] = market_cap[:, -(w + 1) :]
    k_price = spec.scaler.index("price") if spec.target == "level" else -1
    # Window j (predicting buffer day j + w + 1) reads days j+1 .. j+w; state slot j.
    hs = [np.zeros((batch, horizon, lay.units), np.float32) for lay in weights.layers]
    cs = [np.zeros((batch, horizon, lay.units), np.float32) for lay in weights.layers]
    raw = feature_matrix(p[:, : w + 1], v[:, : w + 1], m[:, : w + 1], spec.features)
    known = spec.scaler.transform(raw).astype(np.float32)  # [B, w + 1, F]
    first = weights.layers[0]
    known_proj = known @ first.w_ih + first.bias  # [B, w + 1, 4u]: one product for all
    for day in range(1, w + horizon):
        if day <= w:
            inp = known_proj[:, day : day + 1, :]  # [B, 1, 4u]: shared by all windows
        else:  # predicted yesterday by the window that ended then
            lo = day - 1
            raw = feature_matrix(p[:, lo : day + 1], v[:, lo : day + 1], m[:, lo : day + 1],
                                 spec.features)  # fmt: skip
            x = spec.scaler.transform(raw[:, 1, :]).astype(np.float32)  # [B, F]
            inp = (x @ first.w_ih + first.bias)[:, None, :]
        j0, j1 = max(0, day - w), min(horizon, day)  # windows containing this day
        for k, layer in enumerate(weights.layers):
            if k:
                inp = hs[k - 1][:, j0:j1] @ layer.w_ih + layer.bias
            _step(layer, inp, hs[k][:, j0:j1], cs[k][:, j0:j1])  # views: updated in place
        if day >= w:  # window day - w (= j0) has read its last day
            y = (hs[-1][:, j0] @ weights.head_w + weights.head_b).astype(np.float64)  # [B]
            append_day(spec, k_price, y, p, v, m, day + 1)
    return p[:, w + 1 :]
