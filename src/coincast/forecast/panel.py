"""The aligned panel the global model sees: many coins' days on one calendar.

One recipe turns prices and volumes into the network's four inputs per coin and day, and
the same function serves training, walk-forward scoring and a forecast from stored days,
so they cannot drift apart:

- ``own``: the coin's log return ÷ its scale (the std of its returns on its own training
  days only);
- ``btc``: bitcoin's log return ÷ bitcoin's scale; on a day bitcoin has no price (its data
  may end before another coin's) the market's mean return stands in, since the two move
  together far more than either moves with nothing;
- ``market``: the mean log return of the panel's coins that have one that day ÷ its scale
  (the std of the market return before the earliest validation period of any coin);
- ``volume``: the coin's log-volume change ÷ its training std (0 where a volume is
  missing or zero: no information, not an outlier).

Every input is clipped to ±``CLIP`` scale units: one listing-day spike must not saturate
the LSTM's gates. All four are known at the close of the origin day, provided every coin's
rows follow one daily convention: ``Panel.build`` refuses a coin whose rows run one day
ahead of bitcoin's (``coincast.forecast.alignment``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from coincast.errors import DataError, ParameterError
from coincast.forecast.alignment import check_alignment
from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.model.presets import DEFAULT_PRESET, get_preset
from coincast.prep.dataset import Prepared, contiguous_tail

__all__ = [
    "BTC",
    "CLIP",
    "GlobalConfig",
    "columns",
    "matrices",
    "shrink_weight",
    "INPUTS",
    "RECIPE",
    "Panel",
    "Scales",
    "features",
    "grid",
    "iterate",
    "log_returns",
    "windows",
]

BTC = "bitcoin"
CLIP = 10.0
INPUTS = ("own", "btc", "market", "volume")
RECIPE = {
    "own": "log(p[t]/p[t-1]) / ret_scale[coin]",
    "btc": "log return of bitcoin / btc_scale; the market return where bitcoin has none",
    "market": "mean over panel coins with a return that day / market_scale",
    "volume": "log(v[t]/v[t-1]) / vol_scale[coin]; 0 where a volume is missing or zero",
    "clip": CLIP,
}


@dataclass(frozen=True)
class Scales:
    """Per-coin and covariate scales, each fitted on training days only."""

    ret: dict[str, float]
    vol: dict[str, float]
    btc: float
    market: float

    def to_dict(self) -> dict[str, Any]:
        return {"ret": self.ret, "vol": self.vol, "btc": self.btc, "market": self.market}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scales:
        return cls(
            ret={str(k): float(v) for k, v in data["ret"].items()},
            vol={str(k): float(v) for k, v in data["vol"].items()},
            btc=float(data["btc"]),
            market=float(data["market"]),
        )


def _default(name: str) -> Any:
    return getattr(get_preset(DEFAULT_PRESET), name)


@dataclass(frozen=True)
class GlobalConfig:
    """Architecture, training and interval settings (intervals default to the preset's)."""

    window: int = 30
    units: tuple[int, ...] = (50,)
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    patience: int | None = 5
    val_frac: float = 0.2
    test_frac: float = 0.1
    shrink: bool = True
    seed: int = 42
    intervals: str = _default("intervals")
    aci_gamma: float = _default("aci_gamma")
    ewma_lambda: float = _default("ewma_lambda")
    ewma_clip: float | None = _default("ewma_clip")

    def __post_init__(self) -> None:
        if self.window < 2 or self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ParameterError("window (≥ 2), epochs, batch_size and lr must be positive.")
        ModelConfig(n_features=len(INPUTS), units=tuple(self.units))  # validates units

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "units": list(self.units)}


def log_returns(price: NDArray[np.float64]) -> NDArray[np.float64]:
    """[T, C] prices (NaN where absent) → [T, C] log returns (NaN on row 0 and gaps)."""
    out = np.full(price.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[1:] = np.log(price[1:] / price[:-1])
    return out


def _volume_changes(volume: NDArray[np.float64], present: NDArray[np.bool_]) -> NDArray[np.float64]:
    out = np.zeros(volume.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[1:] = np.log(volume[1:] / volume[:-1])
    out[~np.isfinite(out)] = 0.0
    out[~present] = np.nan
    return out


def market_return(ret: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mean over the coins with a return each day (NaN on a day none has one)."""
    ok = np.isfinite(ret)
    n = ok.sum(axis=1)
    total = np.where(ok, ret, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, total / n, np.nan)


def features(
    price: NDArray[np.float64],
    volume: NDArray[np.float64],
    coins: tuple[str, ...],
    scales: Scales,
) -> NDArray[np.float64]:
    """[T, C] prices and volumes on consecutive days → [T, C, 4] inputs (NaN where a coin
    has no return that day; row 0 is always NaN)."""
    ret = log_returns(price)
    present = np.isfinite(ret)
    mkt = market_return(ret)
    k = coins.index(BTC)
    btc = np.where(np.isfinite(ret[:, k]), ret[:, k], mkt)
    r_scale = np.array([scales.ret[c] for c in coins])
    v_scale = np.array([scales.vol[c] for c in coins])
    out = np.empty((*price.shape, len(INPUTS)))
    out[:, :, 0] = ret / r_scale
    out[:, :, 1] = (btc / scales.btc)[:, None]
    out[:, :, 2] = (mkt / scales.market)[:, None]
    out[:, :, 3] = _volume_changes(volume, present) / v_scale
    out[~present] = np.nan
    return np.clip(out, -CLIP, CLIP)


def grid(histories: Mapping[str, pd.DataFrame]) -> tuple[pd.DatetimeIndex, dict[str, int]]:
    """One daily calendar covering every coin's recent run of consecutive days, and each
    coin's offset on it (its day 0 is grid row ``offset``)."""
    tails = {c: contiguous_tail(h) for c, h in histories.items()}
    empty = [c for c, t in tails.items() if t.empty]
    if empty:
        raise DataError(f"no priced days for {', '.join(empty)}; fetch their history first.")
    first = min(t.index[0] for t in tails.values())
    last = max(t.index[-1] for t in tails.values())
    dates = pd.date_range(first, last, freq="D", name="date")
    return dates, {c: int(dates.searchsorted(t.index[0])) for c, t in tails.items()}


@dataclass
class Panel:
    """Many coins on one calendar: prices, volumes, each coin's split and the inputs."""

    dates: pd.DatetimeIndex
    coins: tuple[str, ...]
    price: NDArray[np.float64]  # [T, C] USD, NaN where the coin has no day
    volume: NDArray[np.float64]  # [T, C]
    preps: dict[str, Prepared]  # per coin: its own split, prices, ret scale
    offsets: dict[str, int]  # coin day i is grid row offsets[coin] + i
    window: int
    scales: Scales | None = None
    x: NDArray[np.float64] | None = None  # [T, C, 4] once scales are fitted

    @classmethod
    def build(
        cls, histories: Mapping[str, pd.DataFrame], preps: dict[str, Prepared], window: int
    ) -> Panel:
        if BTC not in histories:
            raise ParameterError(
                f"the global model needs {BTC!r} in the panel (its return is an input); "
                f"got {', '.join(histories) or 'no coins'}. Add its history."
            )
        dates, offsets = grid(histories)
        coins = tuple(histories)
        price = np.full((len(dates), len(coins)), np.nan)
        volume = np.full_like(price, np.nan)
        for j, c in enumerate(coins):
            p, o = preps[c], offsets[c]
            price[o : o + len(p.price), j] = p.price
            volume[o : o + len(p.volume), j] = p.volume
        # refuse a close-convention coin beside CoinGecko's bitcoin before any fitting
        stop = {c: offsets[c] + int(preps[c].bounds.test_start) for c in coins}
        check_alignment(log_returns(price), coins, BTC, stop)
        panel = cls(dates, coins, price, volume, preps, offsets, window)
        panel.scales = panel._fit_scales()
        panel.x = features(price, volume, coins, panel.scales)
        return panel

    def rows(self, coin: str, days: NDArray[np.intp]) -> NDArray[np.intp]:
        """A coin's day indices → grid rows."""
        return np.asarray(days, dtype=np.intp) + self.offsets[coin]

    def _fit_scales(self) -> Scales:
        ret = log_returns(self.price)
        vol = _volume_changes(self.volume, np.isfinite(ret))
        r_s: dict[str, float] = {}
        v_s: dict[str, float] = {}
        for j, c in enumerate(self.coins):
            b = self.preps[c].bounds
            r_s[c] = self.preps[c].ret_scale
            train = self.rows(c, np.arange(1, b.val_start))
            v_s[c] = _std(vol[train, j])
        k = self.coins.index(BTC)
        btc_train = self.rows(BTC, np.arange(1, self.preps[BTC].bounds.val_start))
        before = min(
            int(self.rows(c, np.array([self.preps[c].bounds.val_start]))[0]) for c in self.coins
        )
        mkt = market_return(ret)[:before]
        return Scales(r_s, v_s, _std(ret[btc_train, k]), _std(mkt))

    def samples(self, part: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Every coin's windows for ``part`` (its own train/val days) pooled → x, y float32."""
        assert self.x is not None
        xs, ys = [], []
        for j, c in enumerate(self.coins):
            p = self.preps[c]
            days = p.bounds.days(part)  # type: ignore[arg-type]
            if days.size == 0:
                continue
            x = windows(self.x, self.rows(c, days) - 1, j, self.window)
            y = p.target[days]
            ok = np.isfinite(x).all(axis=(1, 2)) & np.isfinite(y)
            xs.append(x[ok])
            ys.append(y[ok])
        if not xs:
            return torch.zeros((0, self.window, len(INPUTS))), torch.zeros(0)
        return (
            torch.from_numpy(np.concatenate(xs).astype(np.float32)),
            torch.from_numpy(np.concatenate(ys).astype(np.float32)),
        )


def iterate(
    model: LSTMRegressor,
    blocks: NDArray[np.float64],
    coins: tuple[str, ...],
    scales: Scales,
    shrink: NDArray[np.float64],
    horizon: int,
) -> NDArray[np.float64]:
    """Forecast every coin of the panel at once, ``horizon`` days on → log returns
    [N, C, horizon] (NaN for a coin without a full window at that origin).

    blocks: [N, C, window, 4] inputs ending at each origin. Each step predicts every
    coin's next return (× its shrink weight), then builds the next day's inputs from
    those predictions with the same recipe as ``features``: bitcoin's predicted return
    (the market's where bitcoin has no window), the mean predicted return of the coins
    being forecast, and a volume change of 0 (volume held, as ``forecast.py`` holds it).
    """
    valid = np.asarray(np.isfinite(blocks).all(axis=(2, 3)), dtype=bool)  # [N, C]
    n, c = valid.shape
    cols = np.broadcast_to(np.arange(c), (n, c))[valid]
    r_scale = np.array([scales.ret[k] for k in coins])
    k_btc = coins.index(BTC)
    block = blocks[valid]  # [M, window, 4]
    out = np.full((n, c, horizon), np.nan)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for h in range(horizon):
                y = model(torch.from_numpy(block.astype(np.float32))).double().numpy()
                ret = np.full((n, c), np.nan)
                ret[valid] = y * r_scale[cols] * shrink[cols]
                out[:, :, h] = ret
                mkt = market_return(ret)
                btc = np.where(valid[:, k_btc], ret[:, k_btc], mkt)
                row = np.empty((n, c, len(INPUTS)))
                row[:, :, 0] = ret / r_scale
                row[:, :, 1] = (btc / scales.btc)[:, None]
                row[:, :, 2] = (mkt / scales.market)[:, None]
                row[:, :, 3] = 0.0
                nxt = np.clip(row[valid], -CLIP, CLIP)
                block = np.concatenate([block[:, 1:, :], nxt[:, None, :]], axis=1)
    finally:
        model.train(was_training)
    return out


def windows(
    x: NDArray[np.float64], origins: NDArray[np.intp], col: int | slice, w: int
) -> NDArray[np.float64]:
    """Input windows ending at each origin row (inclusive) → [N, w, 4] for one coin, or
    [N, w, C, 4] for a slice of coins."""
    idx = origins[:, None] + np.arange(-w + 1, 1)[None, :]
    return x[idx, col, :]


def _std(values: NDArray[np.float64]) -> float:
    v = values[np.isfinite(values)]
    s = float(np.std(v)) if v.size > 1 else 0.0
    return s if s > 0 else 1.0


def columns(data: Mapping[str, list[float | None]], coins: tuple[str, ...]) -> NDArray[np.float64]:
    return np.array(
        [[np.nan if v is None else float(v) for v in data[k]] for k in coins], dtype=np.float64
    ).T


def matrices(
    histories: Mapping[str, pd.DataFrame], coins: tuple[str, ...]
) -> tuple[pd.DatetimeIndex, NDArray[np.float64], NDArray[np.float64]]:
    """Newer histories on one calendar → (dates, price [T, C], volume [T, C])."""
    given = {k: h for k, h in histories.items() if k in coins}
    if not given:
        raise ParameterError(f"none of the histories is a panel coin ({', '.join(coins)}).")
    dates, offsets = grid(given)
    price = np.full((len(dates), len(coins)), np.nan)
    volume = np.full_like(price, np.nan)
    for k, h in given.items():
        t = contiguous_tail(h)
        j, o = coins.index(k), offsets[k]
        price[o : o + len(t), j] = t["price"].to_numpy(dtype=np.float64)
        volume[o : o + len(t), j] = t["volume"].to_numpy(dtype=np.float64)
    return dates, price, volume


def shrink_weight(r_hat: NDArray[np.float64], r: NDArray[np.float64]) -> float:
    """The ``shrunk`` preset's weight: least squares on validation returns, in [0, 1]."""
    ok = np.isfinite(r_hat) & np.isfinite(r)
    denom = float(np.sum(r_hat[ok] ** 2))
    return 0.0 if denom <= 0 else float(np.clip(np.sum(r[ok] * r_hat[ok]) / denom, 0.0, 1.0))
