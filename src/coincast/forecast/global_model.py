"""``GlobalForecaster``: one LSTM trained on many coins at once, with cross-coin inputs.

Why one network for many coins: a single coin's few thousand days are little to learn
from, and what moves one coin (bitcoin, the whole market) is shared. The inputs per coin
and day are in ``coincast.forecast.panel`` (own return, bitcoin's, the market's, the
log-volume change, each scaled on training days only).

Decisions, and why:

- **No coin embedding.** A TF.js ``LSTM``/``Dense`` stack can only take one as a one-hot
  column per coin, which ties the file to the training panel's coin list and adds C inputs
  for what per-coin scaling already removes (the level of volatility). Scaling each coin's
  returns by its own training std is the per-coin part.
- **Iterated, not a Dense(H) head.** The network predicts the next day's scaled return
  (Dense(1)), so it is an ordinary ``LSTMRegressor``: trained by ``model.train.train_model``
  (the fast kernel, early stopping, the training contract), exported by
  ``store.tfjs`` unchanged. Multi-day paths iterate the whole panel: every coin's next
  return is predicted, and bitcoin's and the market's next inputs are built from those
  predictions, so the covariates stay what they were in training.
- **Per-coin split and shrink.** Each coin keeps its own chronological split (training,
  validation for early stopping and calibration, test); the network is trained on every
  coin's training days and stops early on every coin's validation days. Each coin gets the
  ``shrunk`` preset's validation weight on its predicted return (0 = naive), so a coin the
  network cannot help is forecast by naive.
- Intervals per coin through the same ``calibration.calibrate`` / ``walk`` as
  ``Forecaster``; scores through ``walkforward.score`` (beside naive, drift, the band and
  GARCH-t).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from coincast.errors import DataError, ModelError, ModelFormatError, ParameterError
from coincast.forecast import panel as pn
from coincast.forecast import walkforward
from coincast.forecast.calibration import calibrate_as, walk
from coincast.forecast.evaluate import DMResult, Evaluation
from coincast.forecast.forecast import forecast_frame
from coincast.forecast.forecaster import ALPHA, EVAL_HORIZON, INTERVAL_HORIZON, MAX_DAYS
from coincast.forecast.pooled import direction_test, pooled_dm
from coincast.forecast.risk import IntervalState
from coincast.json_values import finite_list, json_safe
from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.model.schedule import CancelToken, OnEpoch, TrainConfig, TrainResult
from coincast.model.train import train_model
from coincast.prep.dataset import prepare

__all__ = ["FORMAT", "GlobalForecaster"]

FORMAT = "coincast.global/1"
DateLike = str | pd.Timestamp
Dates = DateLike | Mapping[str, DateLike] | None


def _pick(dates: Dates, coin: str) -> DateLike | None:
    return dates.get(coin) if isinstance(dates, Mapping) else dates


class GlobalForecaster:
    """Fit on a panel of histories (coin → frame), then forecast any coin of it.

    >>> g = GlobalForecaster(epochs=10).fit({"bitcoin": btc, "ethereum": eth})  # doctest: +SKIP
    >>> g.forecast("ethereum", days=7)                                         # doctest: +SKIP
    """

    def __init__(self, **overrides: Any) -> None:
        if "units" in overrides:
            overrides["units"] = tuple(overrides["units"])
        try:
            self.config = pn.GlobalConfig(**overrides)
        except TypeError as exc:
            known = ", ".join(f.name for f in dataclasses.fields(pn.GlobalConfig))
            raise ParameterError(f"unknown setting ({exc}); known: {known}.") from exc
        self.model: LSTMRegressor | None = None
        self.coins: tuple[str, ...] = ()
        self.scales: pn.Scales | None = None
        self.shrink: dict[str, float] = {}
        self.intervals: dict[str, IntervalState] = {}
        self.evaluations: dict[str, Evaluation] = {}
        self.train_result: TrainResult | None = None
        self.errors: dict[str, tuple[NDArray[np.float64], ...]] = {}  # h=1 test: model, naive, dir
        self._rows: tuple[pd.DatetimeIndex, NDArray[np.float64], NDArray[np.float64]] | None = None
        self._last: dict[str, str] = {}  # coin → its last known day (ISO)
        self._info: dict[str, Any] = {}
        self._metrics: dict[str, Any] = {}

    # -- training ------------------------------------------------------------------
    def fit(
        self,
        histories: Mapping[str, pd.DataFrame],
        on_epoch: OnEpoch | None = None,
        cancel: CancelToken | None = None,
        *,
        val_start: Dates = None,
        test_start: Dates = None,
        end: Dates = None,
        horizon: int = EVAL_HORIZON,
    ) -> GlobalForecaster:
        """Train on every coin's training days, stop early on their validation days, then
        calibrate and score each coin's test period (dates: one for all, or per coin)."""
        c = self.config
        if len(histories) < 2:
            raise ParameterError("a global model needs at least two coins' histories.")
        preps = {
            coin: prepare(
                h,
                window=c.window,
                features=("log_return",),
                target="return",
                val_frac=c.val_frac,
                test_frac=c.test_frac,
                val_start=_pick(val_start, coin),
                test_start=_pick(test_start, coin),
                end=_pick(end, coin),
                what=coin,
            )
            for coin, h in histories.items()
        }
        panel = pn.Panel.build(histories, preps, c.window)
        x, y = panel.samples("train")
        x_val, y_val = panel.samples("val")
        has_val = len(y_val) > 0
        model = LSTMRegressor(
            ModelConfig(n_features=len(pn.INPUTS), units=c.units),
            generator=torch.Generator().manual_seed(c.seed),
        )
        config = TrainConfig(
            epochs=c.epochs,
            batch_size=c.batch_size,
            lr=c.lr,
            patience=c.patience if has_val else None,
            seed=c.seed,
        )
        result = train_model(
            model,
            x,
            y,
            x_val if has_val else None,
            y_val if has_val else None,
            config=config,
            on_epoch=on_epoch,
            cancel=cancel,
        )
        self.model, self.train_result, self.coins = result.model, result, panel.coins
        self.scales = panel.scales
        self._finish(panel, horizon, ends={k: _pick(end, k) for k in panel.coins})
        return self

    def _paths(self, panel: pn.Panel, rows: NDArray[np.intp], h: int) -> NDArray[np.float64]:
        """Log-return paths [N, C, h] from grid rows (every coin of the panel at once)."""
        assert self.model is not None and self.scales is not None and panel.x is not None
        blocks = pn.windows(panel.x, rows, slice(None), panel.window).transpose(0, 2, 1, 3)
        shrink = np.array([self.shrink.get(k, 1.0) for k in panel.coins])
        return pn.iterate(self.model, blocks, panel.coins, self.scales, shrink, h)

    def _finish(self, panel: pn.Panel, horizon: int, ends: Mapping[str, Any]) -> None:
        c, hmax = self.config, max(horizon, INTERVAL_HORIZON)
        self.shrink = dict.fromkeys(panel.coins, 1.0)
        if c.shrink:
            for j, k in enumerate(panel.coins):
                p = panel.preps[k]
                at = walkforward.origins(p.bounds.val_start, p.bounds.test_start)
                if at.size:
                    r_hat = self._paths(panel, panel.rows(k, at), 1)[:, j, 0]
                    r = np.log(p.price[at + 1] / p.price[at])
                    self.shrink[k] = pn.shrink_weight(r_hat, r)
        needed = {
            k: (
                walkforward.origins(p.bounds.val_start, p.bounds.test_start),
                walkforward.origins(p.bounds.test_start, p.bounds.end),
            )
            for k, p in panel.preps.items()
        }
        rows = np.unique(
            np.concatenate([panel.rows(k, np.r_[v, t]) for k, (v, t) in needed.items()])
        )
        ret = self._paths(panel, rows.astype(np.intp), hmax) if rows.size else None
        keep: list[int] = []
        for j, k in enumerate(panel.coins):
            p, (val, test) = panel.preps[k], needed[k]
            b = p.bounds

            def price_paths(at: NDArray[np.intp], h: int) -> NDArray[np.float64]:
                if ret is None or at.size == 0:
                    return np.full((at.size, h), np.nan)
                r = ret[np.searchsorted(rows, panel.rows(k, at)), j, :h]  # noqa: B023
                return p.price[at][:, None] * np.exp(np.cumsum(r, axis=1))  # noqa: B023

            self.intervals[k], cal = calibrate_as(
                c,
                p.price,
                val,
                price_paths(val, INTERVAL_HORIZON),
                walkforward.actuals(p, val, INTERVAL_HORIZON, b.test_start),
                known=b.test_start,
                alpha=ALPHA,
            )
            last = max(b.end, b.test_start) - 1 if ends.get(k) is not None else len(p.price) - 1
            if test.size:
                model = price_paths(test, hmax)
                actual = walkforward.actuals(p, test, hmax, b.end)
                lo, hi = walk(self.intervals[k], cal, p.price, test, model, actual, last=last)
                self.evaluations[k] = walkforward.score(
                    p, test, model[:, :horizon], stop=b.end, lower=lo[:, :horizon],
                    upper=hi[:, :horizon], alpha=ALPHA, interval_method=c.intervals,
                )  # fmt: skip
                base = p.price[test]
                self.errors[k] = (
                    model[:, 0] - actual[:, 0],
                    base - actual[:, 0],
                    model[:, 0],
                    actual[:, 0],
                    base,
                )
            else:
                self.intervals[k].last_var = self.intervals[k].variance_at(p.price, last)
            row = int(panel.rows(k, np.array([last]))[0])
            keep += list(range(row - c.window, row + 1))
            self._last[k] = walkforward.iso(p.dates, last)
            self._info[k] = {
                part: [walkforward.iso(p.dates, i) for i in (lo, hi - 1)] if hi > lo else None
                for part, lo, hi in (
                    ("train", b.first, b.val_start),
                    ("val", b.val_start, b.test_start),
                    ("test", b.test_start, b.end),
                )
            }
        sel = np.unique(np.array(keep, dtype=np.intp))
        self._rows = (panel.dates[sel], panel.price[sel], panel.volume[sel])

    # -- skill over the panel --------------------------------------------------------
    def pooled(self) -> tuple[DMResult, tuple[float, float, str]]:
        """1-day test-period skill pooled over coins: Diebold–Mariano vs naive, direction."""
        if not self.errors:
            raise ModelError("no test period was scored; fit with a test period first.")
        dm = pooled_dm([e[0] for e in self.errors.values()], [e[1] for e in self.errors.values()])
        hits = n = 0
        for _, _, pred, actual, base in self.errors.values():
            dp = np.sign(pred - base)
            ok = np.isfinite(actual) & np.isfinite(pred) & (dp != 0)
            hits += int(np.sum(np.sign(actual - base)[ok] == dp[ok]))
            n += int(ok.sum())
        return dm, direction_test(hits, n)

    # -- forecasting ---------------------------------------------------------------
    def forecast(
        self,
        coin: str,
        days: int = 7,
        histories: Mapping[str, pd.DataFrame] | None = None,
    ) -> pd.DataFrame:
        """Forecast ``coin`` ``days`` days after its last known day → date, forecast, lower,
        upper, naive (USD). With ``histories`` (newer data for the panel's coins) the
        forecast starts from their last days; otherwise from the days the fit knew."""
        if self.model is None or self.scales is None or self._rows is None:
            raise ModelError("this global model is not fitted; call .fit(histories) first.")
        if coin not in self.coins:
            raise ParameterError(
                f"{coin!r} is not in this global model's panel; "
                f"choose from {', '.join(self.coins)}."
            )
        if not 1 <= days <= MAX_DAYS:
            raise ParameterError(f"days must be between 1 and {MAX_DAYS}, got {days}.")
        dates, price, volume = (
            self._rows if histories is None else pn.matrices(histories, self.coins)
        )
        j, w = self.coins.index(coin), self.config.window
        known = np.flatnonzero(np.isfinite(price[:, j]))
        day = self._last[coin] if histories is None else dates[known[-1] if known.size else 0]
        last = pd.Timestamp(day)
        span = (dates >= last - pd.Timedelta(days=w)) & (dates <= last)
        if span.sum() != w + 1 or not np.isfinite(price[span, j]).all():
            raise DataError(
                f"forecasting {coin} needs its last {w + 1} consecutive days; refresh its "
                "history (`coincast data refresh COIN`)."
            )
        x = pn.features(price[span], volume[span], self.coins, self.scales)[1:]
        shrink = np.array([self.shrink[k] for k in self.coins])
        ret = pn.iterate(
            self.model, x.transpose(1, 0, 2)[None], self.coins, self.scales, shrink, days
        )
        p0 = float(price[span, j][-1])
        path = p0 * np.exp(np.cumsum(ret[0, j]))
        state = self.intervals[coin]
        if histories is None:
            width = state.widths(days)
        else:
            width = state.widths_for(price[known, j], days)
        out = forecast_frame(last, path, path * np.exp(-width), path * np.exp(width), p0)
        out.attrs["level"] = 1.0 - ALPHA
        return out

    # -- persistence: TF.js model.json + float32 weights -------------------------------
    def metadata(self) -> dict[str, Any]:
        """Everything a forecast needs besides the weights, as plain JSON (no pickle)."""
        from coincast.version import __version__

        if self.model is None or self.scales is None or self._rows is None:
            raise ModelError("this global model is not fitted; call .fit(histories) first.")
        dates, price, volume = self._rows
        return json_safe(  # type: ignore[no-any-return]
            {
                "format": FORMAT,
                "coincast_version": __version__,
                "config": self.config.to_dict(),
                "window": self.config.window,
                "coins": list(self.coins),
                "inputs": list(pn.INPUTS),
                "recipe": pn.RECIPE,
                "scales": self.scales.to_dict(),
                "shrink_weight": self.shrink,
                "intervals": {k: s.to_dict() for k, s in self.intervals.items()},
                "last_day": self._last,
                "last_days": {
                    "date": [d.date().isoformat() for d in dates],
                    "price": {k: finite_list(price[:, j]) for j, k in enumerate(self.coins)},
                    "volume": {k: finite_list(volume[:, j]) for j, k in enumerate(self.coins)},
                },
                "data": self._info,
                "metrics": {k: e.to_dict() for k, e in self.evaluations.items()} or self._metrics,
            }
        )

    def export(self) -> tuple[bytes, bytes]:
        """(model.json bytes, weights) for ``store`` (``ModelRegistry.save``)."""
        from coincast.store.tfjs.write import to_tfjs

        meta = self.metadata()
        assert self.model is not None
        if self.model.config.dropout > 0 or self.model.head.out_features != 1:
            raise ParameterError(
                "this network cannot be written as TF.js LSTM/Dense layers with a one-day "
                "head; export supports LSTM stacks → Dense(1) without dropout."
            )
        doc, weights = to_tfjs(self.model, self.config.window, meta)
        return json.dumps(doc).encode(), weights

    @classmethod
    def from_tfjs(cls, model_json: bytes, weights: bytes) -> GlobalForecaster:
        """A global model from stored TF.js files (JSON and raw float32 only)."""
        from coincast.store.tfjs.read import from_tfjs

        model, _window, meta = from_tfjs(model_json, weights)
        try:
            if meta.get("format") != FORMAT:
                raise ParameterError(f"format is {meta.get('format')!r}, expected {FORMAT!r}")
            cfg = dict(meta["config"])
            g = cls(**cfg)
            g.coins = tuple(str(k) for k in meta["coins"])
            g.scales = pn.Scales.from_dict(meta["scales"])
            g.shrink = {str(k): float(v) for k, v in meta["shrink_weight"].items()}
            g.intervals = {str(k): IntervalState.from_dict(v) for k, v in meta["intervals"].items()}
            g._last = {str(k): str(v) for k, v in meta["last_day"].items()}
            days = meta["last_days"]
            dates = pd.DatetimeIndex(pd.to_datetime(days["date"]), name="date")
            g._rows = (
                dates,
                pn.columns(days["price"], g.coins),
                pn.columns(days["volume"], g.coins),
            )
            g._info, g._metrics = dict(meta.get("data") or {}), dict(meta.get("metrics") or {})
        except (KeyError, TypeError, ValueError, AttributeError, ParameterError) as exc:
            raise ModelFormatError(
                f"the model's metadata is not a coincast global model ({exc}); re-export it."
            ) from exc
        if model.config.n_features != len(pn.INPUTS):
            raise ModelFormatError(
                f"the network takes {model.config.n_features} inputs, a global model "
                f"{len(pn.INPUTS)}; the model files do not belong together."
            )
        g.model = model
        return g
