// After browser training: evaluation beside naive, interval calibration and the metadata
// the server needs to forecast with the model (coincast.forecast.forecaster's
// "coincast.forecaster/1" format), computed the way the server computes them so a
// browser-trained version is forecast, listed and judged like any other.

export const FORMAT = "coincast.forecaster/1";
export const ALPHA = 0.1; // 90 % intervals, as on the server
const CALIBRATED_HORIZONS = 7; // further horizons are widened by √h on the server
const MIN_PRICE_RATIO = 1e-3; // a level forecast is clipped above this share of the last price

// Iterative forecasts from many origins at once, exactly like predict_paths on the
// server: predict the scaled price, append it, hold volume at its last value, slide.
// origins: indices of each path's last known day → [origins.length][horizon] USD.
export function predictPaths(tf, model, data, history, origins, horizon) {
  const { window: w, mins, maxs } = data;
  const span = [maxs[0] - mins[0] || 1, maxs[1] - mins[1] || 1];
  const price = origins.map((o) => history.price.slice(o - w + 1, o + 1));
  const volume = origins.map((o) => history.volume.slice(o - w + 1, o + 1));
  const out = origins.map(() => []);
  for (let h = 0; h < horizon; h += 1) {
    const x = price.map((p, b) => {
      const rows = [];
      for (let i = p.length - w; i < p.length; i += 1) {
        rows.push([(p[i] - mins[0]) / span[0], (volume[b][i] - mins[1]) / span[1]]);
      }
      return rows;
    });
    const xt = tf.tensor3d(x);
    const yt = model.predict(xt);
    const y = yt.dataSync();
    tf.dispose([xt, yt]);
    price.forEach((p, b) => {
      const last = p[p.length - 1];
      const level = Math.max(y[b] * span[0] + mins[0], last * MIN_PRICE_RATIO);
      p.push(level);
      volume[b].push(volume[b][volume[b].length - 1]);
      out[b].push(level);
    });
  }
  return out;
}

// Split-conformal: the ⌈(n+1)(1-α)⌉-th smallest absolute log residual per horizon;
// null where there are too few residuals (the server then scales from a known one).
export function conformalQuantiles(residuals, horizon, alpha = ALPHA) {
  const q = [];
  for (let h = 0; h < horizon; h += 1) {
    const r = residuals
      .map((row) => Math.abs(row[h]))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const k = Math.ceil((r.length + 1) * (1 - alpha));
    q.push(k >= 1 && k <= r.length ? r[k - 1] : null);
  }
  return q;
}

function stats(pred, truth) {
  let se = 0;
  let ae = 0;
  let ape = 0;
  for (let i = 0; i < pred.length; i += 1) {
    const e = pred[i] - truth[i];
    se += e * e;
    ae += Math.abs(e);
    ape += Math.abs(e / truth[i]);
  }
  const n = pred.length;
  return { rmse: Math.sqrt(se / n), mae: ae / n, mape: (100 * ape) / n };
}

// data: prepare()'s output. Validation days calibrate the intervals; test days score the
// model and naive one day ahead (no significance test here, so the verdict says so).
// extra: {coin, params, preset (the server's record of the trained preset), epochsRun,
// loss, valLoss, elapsed}.
export function evaluateAndDescribe(tf, model, data, history, extra) {
  const { window: w, nTrain, nVal, nTest } = data;
  const valStart = w + nTrain; // first validation target day
  const testStart = valStart + nVal;
  const end = testStart + nTest;
  const day = (i) => history.dates[i].slice(0, 10);

  const valOrigins = Array.from({ length: nVal }, (_, i) => valStart - 1 + i);
  const valPaths = predictPaths(tf, model, data, history, valOrigins, CALIBRATED_HORIZONS);
  const residuals = valPaths.map((path, b) =>
    path.map((v, k) => {
      const t = valOrigins[b] + k + 1;
      return t < testStart ? Math.log(history.price[t] / v) : NaN;
    }),
  );
  const quantiles = conformalQuantiles(residuals, CALIBRATED_HORIZONS);

  const testOrigins = Array.from({ length: nTest }, (_, i) => testStart - 1 + i);
  const pred = predictPaths(tf, model, data, history, testOrigins, 1).map((p) => p[0]);
  const truth = testOrigins.map((o) => history.price[o + 1]);
  const naive = testOrigins.map((o) => history.price[o]);
  const m = stats(pred, truth);
  const n = stats(naive, truth);
  const ratio = m.rmse / n.rmse;
  const pct = Math.round(Math.abs(1 - ratio) * 100);
  const verdict =
    (ratio < 1
      ? `On ${nTest} test days the model's 1-day error (RMSE) was ${pct} % below naive's`
      : `On ${nTest} test days the model's 1-day error (RMSE) was ${pct} % above naive's`) +
    " (tomorrow = today); trained in the browser, so no significance test was run.";
  const metrics = {
    period: { start: day(testStart), end: day(end - 1), origins: nTest },
    table: [
      { horizon: 1, method: "model", ...m },
      { horizon: 1, method: "naive", ...n },
    ],
    diebold_mariano: [],
    interval_level: 1 - ALPHA,
    interval_coverage: [],
    verdict,
  };

  const lastIdx = history.dates.length;
  const tail = (arr) => arr.slice(lastIdx - (w + 1));
  return {
    format: FORMAT,
    coincast_version: "browser",
    // The server's preset as trained here: the form's numbers, no dropout (the browser
    // applies none), early stopping as the form asked (0 = never: null).
    preset: {
      ...extra.preset,
      description: "Reference design trained in the browser with TensorFlow.js.",
      window: w,
      units: [extra.params.units],
      dropout: 0,
      epochs: extra.params.epochs,
      batch_size: extra.params.batchSize,
      lr: extra.params.lr,
      patience: extra.params.patience || null,
    },
    window: w,
    features: extra.preset.features,
    target: extra.preset.target,
    scaler: { kind: "minmax", names: ["price", "volume"], min: data.mins, max: data.maxs },
    ret_scale: 1,
    shrink_weight: 1,
    intervals: {
      method: "split-conformal, absolute log residuals, validation period",
      level: 1 - ALPHA,
      quantiles,
    },
    last_days: {
      date: tail(history.dates).map((d) => d.slice(0, 10)),
      price: tail(history.price),
      volume: tail(history.volume),
      market_cap: tail(history.dates).map(() => null),
    },
    metrics,
    coin: extra.coin,
    data: {
      start: day(0),
      end: day(lastIdx - 1),
      train: [day(w), day(valStart - 1)],
      val: [day(valStart), day(testStart - 1)],
      test: [day(testStart), day(end - 1)],
    },
    training: {
      epochs_run: extra.epochsRun,
      loss: extra.loss,
      val_loss: extra.valLoss,
      elapsed_s: extra.elapsed,
      trained_in: `browser (TensorFlow.js ${tf.version.tfjs}, ${tf.getBackend()} backend)`,
    },
  };
}
