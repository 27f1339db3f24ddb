"""``Forecaster``: prepare → train → calibrate → evaluate → forecast, for one coin.

``fit`` is two halves with training between them, and both are public so that an
engine that trains many coins' networks as one computation (``coincast.scale``) runs
exactly the same pipeline: ``plan`` prepares the data and builds the network and its
training set (a :class:`FitPlan`); ``finish`` takes the trained network back and
calibrates, evaluates and records everything a forecast needs.

After ``finish`` a forecaster holds the network, the recipe (preset), the scaler, the
shrink weight and the per-horizon interval widths, all fitted on data *before* the test
period, plus an evaluation on the test period beside naive. ``metadata()`` is that state
as plain JSON (it travels inside a TF.js ``model.json``), so ``from_model`` rebuilds a
forecaster without any pickle and without the original history.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pandas as pd
import torch

from coincast.errors import DataError, ModelError, ModelFormatError, ParameterError
from coincast.forecast import walkforward
from coincast.forecast.calibration import calibrate_as, walk
from coincast.forecast.evaluate import Evaluation
from coincast.forecast.forecast import ForecastSpec, forecast_frame, predict_paths
from coincast.forecast.metrics import mase_scale
from coincast.forecast.plan import FitPlan
from coincast.forecast.risk import IntervalState
from coincast.forecast.wavefront import predict_paths_fast
from coincast.json_values import finite_list, json_safe
from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.model.presets import Preset, get_preset
from coincast.model.schedule import CancelToken, Dataset, OnEpoch, TrainConfig, TrainResult
from coincast.prep.dataset import Prepared, contiguous_tail, prepare
from coincast.prep.scaling import MinMaxScaler

__all__ = ["ALPHA", "EVAL_HORIZON", "INTERVAL_HORIZON", "MAX_DAYS", "Forecaster"]

FORMAT = "coincast.forecaster/1"
ALPHA = 0.1  # 90 % intervals
INTERVAL_HORIZON = 30  # horizons calibrated on validation; longer ones scale by √h
EVAL_HORIZON = 7
MAX_DAYS = 90


class Forecaster:
    """Fit on a history frame, then forecast with intervals and a naive baseline
    (``statistical_baselines``: AutoETS/AutoARIMA scored too; opt-in, slow).

    >>> fc = Forecaster("paper", epochs=5).fit(history)      # doctest: +SKIP
    >>> fc.forecast(days=7)                                    # doctest: +SKIP
    >>> print(fc.evaluation.verdict)                           # doctest: +SKIP
    """

    def __init__(
        self, preset: str | None = None, *, statistical_baselines: bool = False, **overrides: Any
    ) -> None:
        self.preset: Preset = get_preset(preset, **overrides)
        self.statistical_baselines = statistical_baselines
        self.model: LSTMRegressor | None = None
        self.spec: ForecastSpec | None = None
        self.train_result: TrainResult | None = None
        self.evaluation: Evaluation | None = None
        self.intervals = IntervalState(quantiles=np.full(INTERVAL_HORIZON, np.inf))
        self._info: dict[str, Any] = {}
        self._last: pd.DataFrame | None = None  # the last window+1 days (history frame)
        self._metrics: dict[str, Any] | None = None  # stored evaluation (from_model)
        self._origin_cache: tuple[pd.DataFrame, dict[str, np.ndarray]] | None = None

    @property
    def coin(self) -> str | None:
        """The coin id the forecaster was fitted on, when it was given one."""
        coin = self._info.get("coin")
        return coin if isinstance(coin, str) else None

    # -- training ------------------------------------------------------------------
    def fit(
        self,
        history: pd.DataFrame,
        on_epoch: OnEpoch | None = None,
        cancel: CancelToken | None = None,
        *,
        coin: str | None = None,
        val_start: str | pd.Timestamp | None = None,
        test_start: str | pd.Timestamp | None = None,
        end: str | pd.Timestamp | None = None,
        horizon: int = EVAL_HORIZON,
        warm_start: bool = False,
    ) -> Forecaster:
        """Train on the history's training part; calibrate and evaluate on the rest.

        ``warm_start`` continues from the current network ("train further") instead of
        a fresh initialisation; the scaler is refitted on the new training part.
        """
        plan = self.plan(history, coin=coin, val_start=val_start, test_start=test_start,
                         end=end, horizon=horizon, warm_start=warm_start)  # fmt: skip
        return self.finish(plan, plan.train(on_epoch, cancel))

    def prepare(
        self,
        history: pd.DataFrame,
        *,
        coin: str | None = None,
        val_start: str | pd.Timestamp | None = None,
        test_start: str | pd.Timestamp | None = None,
        end: str | pd.Timestamp | None = None,
    ) -> Prepared:
        """The history as this preset's model sees it, split chronologically."""
        p = self.preset
        return prepare(history, window=p.window, features=p.features, target=p.target,
                       val_frac=p.val_frac, test_frac=p.test_frac, val_start=val_start,
                       test_start=test_start, end=end, what=coin or "this history")  # fmt: skip

    def plan(
        self,
        history: pd.DataFrame,
        *,
        coin: str | None = None,
        val_start: str | pd.Timestamp | None = None,
        test_start: str | pd.Timestamp | None = None,
        end: str | pd.Timestamp | None = None,
        horizon: int = EVAL_HORIZON,
        warm_start: bool = False,
    ) -> FitPlan:
        """Prepare the data and build the network and its training set; nothing trains."""
        p = self.preset
        prep = self.prepare(history, coin=coin, val_start=val_start, test_start=test_start, end=end)
        cfg = ModelConfig(
            n_features=len(p.features), units=p.units, dropout=p.dropout, attention=p.attention
        )
        if warm_start and self.model is not None:
            if self.model.config != cfg:
                raise ModelError(
                    f"cannot train further: the stored network is {self.model.config}, the "
                    f"preset asks for {cfg}. Use the same preset, or train from scratch."
                )
            model = self.model
        else:
            model = LSTMRegressor(cfg, generator=torch.Generator().manual_seed(p.seed))
        x_tr, y_tr, _ = prep.samples("train")
        x_va, y_va, val_days = prep.samples("val")
        has_val = len(val_days) > 0
        config = TrainConfig(
            epochs=p.epochs,
            batch_size=p.batch_size,
            lr=p.lr,
            patience=(p.patience or None) if has_val else None,  # 0: never stop early
            lr_decay_patience=p.lr_decay_patience,
            seed=p.seed,
        )
        spec = ForecastSpec(p.window, p.features, p.target, prep.scaler, prep.ret_scale, 1.0)
        data: Dataset = (x_tr, y_tr, x_va if has_val else None, y_va if has_val else None)
        return FitPlan(prep, model, data, config, spec, coin, end, horizon)

    def finish(self, plan: FitPlan, result: TrainResult) -> Forecaster:
        """Take the trained network: fit the shrink weight, calibrate, evaluate, record."""
        p, prep, model = self.preset, plan.prep, result.model
        spec = plan.spec
        if p.shrink and plan.has_validation:
            spec = dataclasses.replace(spec, shrink=self._fit_shrink(model, spec, prep))
        self.model, self.spec, self.train_result = model, spec, result
        b = prep.bounds
        last = max(b.end, b.test_start) - 1  # the last day the fit may know about
        last = len(prep.dates) - 1 if plan.end is None else last
        self.evaluation = self._calibrate_and_evaluate(prep, plan.horizon, last)
        lo = last - p.window
        self._last = pd.DataFrame(
            {
                "price": prep.price[lo : last + 1],
                "volume": prep.volume[lo : last + 1],
                "market_cap": prep.market_cap[lo : last + 1],
            },
            index=prep.dates[lo : last + 1],
        )

        def day(i: int) -> str:
            return walkforward.iso(prep.dates, i)

        has_val = plan.has_validation
        self._info = {
            "coin": plan.coin,
            "data": {
                "first": day(0),
                "last": day(last),
                "train": [day(b.first), day(b.val_start - 1)],
                "val": [day(b.val_start), day(b.test_start - 1)] if has_val else None,
                "test": [day(b.test_start), day(b.end - 1)] if b.end > b.test_start else None,
            },
            "mase_scale": mase_scale(prep.price[1 : b.test_start]),
            "training": {
                "epochs_run": result.epochs_run,
                "best_epoch": result.best_epoch,
                "stopped_early": result.stopped_early,
                "cancelled": result.cancelled,
                "loss": result.history[-1].loss if result.history else None,
                "val_loss": result.history[-1].val_loss if result.history else None,
                "elapsed_s": result.elapsed_s,
            },
        }
        return self

    def _fit_shrink(self, model: LSTMRegressor, spec: ForecastSpec, prep: Prepared) -> float:
        """Least-squares weight on the predicted one-day log return over validation, in [0, 1].

        0 reproduces naive exactly and the weight minimises validation squared error, so
        a network with no skill is switched off rather than trusted.
        """
        origins = prep.bounds.days("val") - 1
        pred = walkforward.paths(model, spec, prep, origins, 1)[:, 0]
        r_hat = np.log(pred / prep.price[origins])
        r = np.log(prep.price[origins + 1] / prep.price[origins])
        denom = float(np.sum(r_hat * r_hat))
        if denom <= 0:
            return 0.0
        return float(np.clip(np.sum(r * r_hat) / denom, 0.0, 1.0))

    def _calibrate_and_evaluate(self, prep: Prepared, horizon: int, last: int) -> Evaluation | None:
        """Interval widths from validation forecasts, then the test period walked origin
        by origin (intervals updating as outcomes arrive) and scored beside the baselines.
        """
        assert self.model is not None and self.spec is not None
        p, b, hmax = self.preset, prep.bounds, INTERVAL_HORIZON
        val = walkforward.origins(b.val_start, b.test_start)
        paths = actual = np.full((0, hmax), np.nan)
        if val.size:
            paths = walkforward.paths(self.model, self.spec, prep, val, hmax)
            actual = walkforward.actuals(prep, val, hmax, b.test_start)
        self.intervals, cal = calibrate_as(
            p, prep.price, val, paths, actual, known=b.test_start, alpha=ALPHA
        )
        if b.end <= b.test_start:
            self.intervals.last_var = self.intervals.variance_at(prep.price, last)
            return None
        test = walkforward.origins(b.test_start, b.end)
        h = max(horizon, hmax)
        model = walkforward.paths(self.model, self.spec, prep, test, h)
        actual = walkforward.actuals(prep, test, h, b.end)
        lower, upper = walk(self.intervals, cal, prep.price, test, model, actual, last=last)
        return walkforward.score(
            prep,
            test,
            model[:, :horizon],
            stop=b.end,
            lower=lower[:, :horizon],
            upper=upper[:, :horizon],
            alpha=ALPHA,
            interval_method=p.intervals,
            statistical_baselines=self.statistical_baselines,
        )

    # -- forecasting ---------------------------------------------------------------
    def forecast(
        self, days: int = 7, history: pd.DataFrame | None = None, *, reference: bool = False
    ) -> pd.DataFrame:
        """Forecast ``days`` days after the last known day (of ``history`` if given, else
        of the data the model was fitted on) → date, forecast, lower, upper, naive (USD).
        ``reference=True``: the per-window forward, not ``wavefront``'s (equal to float32)."""
        if self.model is None or self.spec is None:
            raise ModelError("this forecaster is not fitted; call .fit(history) first.")
        if not 1 <= days <= MAX_DAYS:
            raise ParameterError(f"days must be between 1 and {MAX_DAYS}, got {days}.")
        w = self.spec.window
        last = self._last if history is None else contiguous_tail(history)
        if last is None or len(last) < w + 1:
            n = 0 if last is None else len(last)
            raise DataError(
                f"forecasting needs the last {w + 1} consecutive days; got {n}. "
                "Refresh the coin's history (`coincast data refresh COIN`)."
            )
        arr = self._origin(last, w)
        run = predict_paths if reference else predict_paths_fast  # same paths, batched by day
        path = run(self.model, self.spec, arr["price"], arr["volume"], arr["market_cap"], days)[0]
        if history is None:
            width = self.intervals.widths(days)
        else:
            width = self.intervals.widths_for(last["price"].to_numpy(dtype=np.float64), days)
        lower, upper = path * np.exp(-width), path * np.exp(width)
        out = forecast_frame(last.index[-1], path, lower, upper, float(arr["price"][0, -1]))
        out.attrs["level"] = 1.0 - ALPHA
        return out

    def _origin(self, last: pd.DataFrame, w: int) -> dict[str, np.ndarray]:
        """The last w + 1 days as [1, w + 1] arrays, kept: converting costs as much as the net."""
        if self._origin_cache is None or self._origin_cache[0] is not last:
            arr = {str(c): last[c].to_numpy(dtype=np.float64)[None, -(w + 1) :] for c in last}
            self._origin_cache = (last, arr)
        return self._origin_cache[1]

    # -- persistence as plain JSON ---------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """Everything a forecast needs besides the weights (JSON-serialisable, no NaN)."""
        from coincast.version import __version__

        if self.spec is None or self._last is None:
            raise ModelError("this forecaster is not fitted; call .fit(history) first.")
        last = self._last
        meta = {
            "format": FORMAT,
            "coincast_version": __version__,
            "preset": self.preset.to_dict(),
            "window": self.spec.window,
            "features": list(self.spec.features),
            "target": self.spec.target,
            "scaler": self.spec.scaler.to_dict(),
            "ret_scale": self.spec.ret_scale,
            "shrink_weight": self.spec.shrink,
            "intervals": self.intervals.to_dict(),
            "last_days": {
                "date": [d.date().isoformat() for d in last.index],
                "price": finite_list(last["price"].to_numpy()),
                "volume": finite_list(last["volume"].to_numpy()),
                "market_cap": finite_list(last["market_cap"].to_numpy()),
            },
            "metrics": self.evaluation.to_dict() if self.evaluation is not None else self._metrics,
            **self._info,
        }
        return json_safe(meta)  # type: ignore[no-any-return]

    @classmethod
    def from_model(cls, model: LSTMRegressor, metadata: dict[str, Any]) -> Forecaster:
        """Rebuild a fitted forecaster from a stored network and its ``metadata()``."""
        try:
            if metadata.get("format") != FORMAT:
                raise ParameterError(f"format is {metadata.get('format')!r}, expected {FORMAT!r}")
            preset = dict(metadata["preset"])
            fc = cls(str(preset.pop("name")), **preset)
            spec = ForecastSpec(
                window=int(metadata["window"]),
                features=tuple(str(f) for f in metadata["features"]),
                target=metadata["target"],
                scaler=MinMaxScaler.from_dict(metadata["scaler"]),
                ret_scale=float(metadata["ret_scale"]),
                shrink=float(metadata["shrink_weight"]),
            )
            intervals = IntervalState.from_dict(metadata["intervals"])
            days = metadata["last_days"]
            last = pd.DataFrame(
                {
                    c: [np.nan if v is None else float(v) for v in days[c]]
                    for c in ("price", "volume", "market_cap")
                },
                index=pd.DatetimeIndex(pd.to_datetime(days["date"]), name="date"),
            )
        except (KeyError, TypeError, ValueError, AttributeError, ParameterError) as exc:
            raise ModelFormatError(
                f"the model's metadata is not a coincast forecaster ({exc}); "
                "re-export it with `coincast train --save`."
            ) from exc
        if model.config.n_features != len(spec.features) or spec.window < 1:
            raise ModelFormatError(
                f"the network takes {model.config.n_features} features but the metadata "
                f"lists {len(spec.features)}; the model files do not belong together."
            )
        fc.model, fc.spec, fc.intervals, fc._last = model, spec, intervals, last
        fc._info = {k: metadata.get(k) for k in ("coin", "data", "mase_scale", "training")}
        fc._metrics = metadata.get("metrics")
        return fc

    # -- TF.js files -----------------------------------------------------------------
    def export(self, extra: dict[str, Any] | None = None) -> tuple[bytes, bytes]:
        """The fitted forecaster as TF.js files (model.json bytes, weights) for the store.

        ``extra`` adds entries to the metadata (e.g. a tuning record).
        """
        from coincast.store.tfjs.write import to_tfjs

        if self.model is None or self.spec is None:
            raise ModelError("this forecaster is not fitted; call .fit(history) first.")
        doc, weights = to_tfjs(self.model, self.spec.window, {**self.metadata(), **(extra or {})})
        return json.dumps(doc).encode(), weights

    @classmethod
    def from_tfjs(cls, model_json: bytes, weights: bytes) -> Forecaster:
        """A forecaster from stored TF.js files (JSON and raw float32 only, never a pickle)."""
        from coincast.store.tfjs.read import from_tfjs

        model, _window, meta = from_tfjs(model_json, weights)
        return cls.from_model(model, meta)
