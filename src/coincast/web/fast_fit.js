// Browser training through the fused kernel (lstm_fast.js) instead of TF.js's fit.
//
// The TF.js model stays the source and the destination: its initial weights (TF.js's own
// initialisers) seed the kernel, and the trained weights are written back into it, so the
// evaluation, the metadata and the save (tf.io.http, multipart to the server) are the
// ones TF.js training uses. TF.js remains the reference and the fallback: `?kernel=tfjs`
// in the page's address trains with model.fit as before.

import { FastLstm, shuffled } from "./lstm_fast.js";

// "fast" (the default) or "tfjs", from the page's address.
export function kernelChoice() {
  const wanted = new URLSearchParams(globalThis.location ? location.search : "").get("kernel");
  return wanted === "tfjs" ? "tfjs" : "fast";
}

// prepare()'s nested windows [n][T][F] from index `from` → one flat Float32Array.
function flat(rows, from, n) {
  const T = rows[0].length;
  const F = rows[0][0].length;
  const out = new Float32Array(n * T * F);
  for (let i = 0; i < n; i += 1) {
    const w = rows[from + i];
    for (let t = 0; t < T; t += 1) for (let f = 0; f < F; f += 1) out[(i * T + t) * F + f] = w[t][f];
  }
  return out;
}

function kernelFor(model, data, params) {
  const fast = new FastLstm({
    window: data.window,
    features: data.xs[0][0].length,
    units: params.units,
    batchSize: params.batchSize,
    lr: params.lr,
  });
  fast.setWeights(model.getWeights().map((w) => w.dataSync()));
  return fast;
}

// Seconds per training step of this kernel on this device (the second of two: the first
// compiles), and which products ran ("wasm-simd" | "js"), for estimateSeconds.
export function fastStepSeconds(model, data, params) {
  const fast = kernelFor(model, data, params);
  const bs = Math.min(params.batchSize, data.nTrain);
  const xs = flat(data.xs, 0, bs);
  const ys = Float32Array.from(data.ys.slice(0, bs));
  const order = Int32Array.from({ length: bs }, (_, i) => i);
  fast.trainBatch(xs, ys, order, 0, bs);
  const t0 = performance.now();
  fast.trainBatch(xs, ys, order, 0, bs);
  return { seconds: (performance.now() - t0) / 1000, kernel: fast.gemm.kind };
}

// As model.fit(x, y, {epochs, batchSize, shuffle: true, validationData, callbacks:
// {onEpochEnd}}) on prepare()'s data: the same batches (reshuffled each epoch), the same
// per-epoch logs {loss, val_loss}; stops after an epoch whose callback set
// model.stopTraining. Training starts from the model's current weights (fresh ones, or a
// stored version's when training further). `best` (optional): a function of the epoch
// index returning whether this epoch's weights are the ones to keep; the kept weights
// are written back instead of the last epoch's (early stopping keeps the best epoch, as
// the server's trainer does). Resolves to fit's shape, {history: {loss, val_loss}}, plus
// the products' engine (kernel: "wasm-simd" | "js").
export async function fitFast(tf, model, data, params, onEpochEnd, best = null) {
  const fast = kernelFor(model, data, params);
  const xs = flat(data.xs, 0, data.nTrain);
  const ys = Float32Array.from(data.ys.slice(0, data.nTrain));
  const xv = flat(data.xs, data.nTrain, data.nVal);
  const yv = Float32Array.from(data.ys.slice(data.nTrain, data.nTrain + data.nVal));
  const history = { loss: [], val_loss: [] };
  let kept = null;
  model.stopTraining = false;
  for (let epoch = 0; epoch < params.epochs && !model.stopTraining; epoch += 1) {
    const loss = fast.trainEpoch(xs, ys, shuffled(data.nTrain));
    const valLoss = fast.mse(xv, yv, data.nVal);
    history.loss.push(loss);
    history.val_loss.push(valLoss);
    await onEpochEnd(epoch, { loss, val_loss: valLoss });
    if (best && best(epoch)) kept = fast.getWeights(); // copies
  }
  const shapes = model.getWeights().map((w) => w.shape);
  const trained = (kept || fast.getWeights()).map((w, k) => tf.tensor(w, shapes[k], "float32"));
  model.setWeights(trained);
  tf.dispose(trained);
  return { history, kernel: fast.gemm.kind };
}
