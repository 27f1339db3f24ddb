// Train the paper model in the browser with TensorFlow.js and save it to the server.
//
// TF.js (1.5 MB) is loaded only when someone chooses browser training, so the first page
// load stays light. The model is the paper design, layer for layer the one the server
// trains: LSTM(50) → Dense(1) on 30-day windows of min-max scaled price and volume, with
// recurrentActivation "sigmoid" because TF.js defaults to hard sigmoid and PyTorch's LSTM
// uses the true sigmoid (otherwise the server would compute a different function).

import { ApiError, authHeaders, paths, url } from "./api.js";
import { evaluateAndDescribe } from "./browser_eval.js";
import { fastStepSeconds, fitFast, kernelChoice } from "./fast_fit.js";

let tfReady = null;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new ApiError("BrowserTraining", `Could not load ${src} from this server.`));
    document.head.append(s);
  });
}

// WebGL is fastest on a real GPU; on a software rasteriser (SwiftShader, llvmpipe — e.g.
// headless or GPU-less machines) the WASM backend is several times faster for an LSTM.
function webglIsHardware() {
  try {
    const gl = document.createElement("canvas").getContext("webgl2") ||
      document.createElement("canvas").getContext("webgl");
    if (!gl) return false;
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    const renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
    return !/swiftshader|llvmpipe|software|basic render/i.test(String(renderer));
  } catch {
    return false;
  }
}

export function loadTf() {
  if (tfReady) return tfReady;
  tfReady = (async () => {
    await loadScript("vendor/tf.min.js");
    await loadScript("vendor/tf-backend-wasm.min.js");
    const tf = window.tf;
    tf.wasm.setWasmPaths(new URL("vendor/", document.baseURI).href);
    const wanted = new URLSearchParams(location.search).get("backend");
    const order = wanted ? [wanted] : webglIsHardware() ? ["webgl", "wasm", "cpu"] : ["wasm", "webgl", "cpu"];
    for (const name of order) {
      try {
        if (await tf.setBackend(name)) break;
      } catch {
        /* try the next backend */
      }
    }
    await tf.ready();
    return tf;
  })();
  tfReady.catch(() => {
    tfReady = null;
  });
  return tfReady;
}

// history: {dates, price, volume}; returns scaled windows and everything metadata needs.
// Split by target day in time order as the server splits: the preset's val_frac and
// test_frac (from GET /api/v1/presets) for validation (the val loss curve) and test (the
// metrics), the rest train. The scaler is fitted on the training days only: the later
// periods' highs would otherwise leak into training.
export function prepare(history, window, valFrac, testFrac) {
  const n = history.price.length;
  const nTargets = n - window;
  const nTest = Math.max(1, Math.round(nTargets * testFrac));
  const nVal = Math.max(1, Math.round(nTargets * valFrac));
  const nTrain = nTargets - nVal - nTest;
  if (nTrain < 10) {
    throw new ApiError(
      "InsufficientHistoryError",
      `This coin has ${n} days of history: too few for a ${window}-day window (under 10 ` +
        "training windows). Choose a shorter window or a coin with more history.",
    );
  }
  const trainEnd = window + nTrain; // days [0, trainEnd) feed training inputs and targets
  const features = [history.price, history.volume];
  const mins = features.map((f) => Math.min(...f.slice(0, trainEnd)));
  const maxs = features.map((f) => Math.max(...f.slice(0, trainEnd)));
  const scale = (k, v) => (v - mins[k]) / (maxs[k] - mins[k] || 1);
  const scaled = features.map((f, k) => f.map((v) => scale(k, v)));
  const xs = [];
  const ys = [];
  for (let t = window; t < n; t += 1) {
    const w = [];
    for (let i = t - window; i < t; i += 1) w.push([scaled[0][i], scaled[1][i]]);
    xs.push(w);
    ys.push(scaled[0][t]);
  }
  return { xs, ys, nTrain, nVal, nTest, mins, maxs, window, trainEnd };
}

export function buildPaperModel(tf, window, units = 50, lr = 1e-3) {
  const model = tf.sequential();
  model.add(tf.layers.lstm({ units, inputShape: [window, 2], recurrentActivation: "sigmoid" }));
  model.add(tf.layers.dense({ units: 1 }));
  model.compile({ optimizer: tf.train.adam(lr), loss: "meanSquaredError" });
  return model;
}

// Times two real training steps (the first compiles kernels) so the estimate reflects
// this device and backend, not a guess. `kernel` says what trains: "wasm-simd" or "js"
// (the fused kernel's products), or "tfjs" (TF.js's own fit, on `backend`).
// params: {window, units, lr, batchSize, epochs, valFrac, testFrac}.
export async function estimateSeconds(history, params) {
  const tf = await loadTf();
  const data = prepare(history, params.window, params.valFrac, params.testFrac);
  const model = buildPaperModel(tf, params.window, params.units, params.lr);
  const bs = Math.min(params.batchSize, data.nTrain);
  const x = tf.tensor3d(data.xs.slice(0, bs));
  const y = tf.tensor2d(data.ys.slice(0, bs), [bs, 1]);
  try {
    let perBatch;
    let kernel = "tfjs";
    if (kernelChoice() === "fast") ({ seconds: perBatch, kernel } = fastStepSeconds(model, data, params));
    else {
      await model.trainOnBatch(x, y);
      const t0 = performance.now();
      await model.trainOnBatch(x, y);
      perBatch = (performance.now() - t0) / 1000;
    }
    const batches = Math.ceil(data.nTrain / params.batchSize);
    return { seconds: perBatch * batches * params.epochs, backend: tf.getBackend(), kernel, windows: data.nTrain };
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
}

// The server's record of the preset must still describe what buildPaperModel builds;
// otherwise the stored metadata would promise the server a model this is not.
function checkDesign(preset) {
  const ok = preset.target === "level" && !preset.shrink && String(preset.features) === "price,volume";
  if (!ok) {
    throw new ApiError(
      "BrowserTraining",
      `The server's ${preset.name} preset (${preset.features} → ${preset.target}) is not the ` +
        "LSTM on price and volume this page trains; train on the server instead.",
    );
  }
}

// "Stopped at epoch 7 of 50: no better validation loss for 5 epochs; best epoch 2 kept."
// for a run shorter than planned, else null: the server's sentence (server/messages.py
// stop_note), from the same rule (first minimum of the validation loss).
export function stopNote(valLosses, epochs) {
  const run = valLosses.length;
  if (!run || run >= epochs || valLosses.some((v) => v == null)) return null;
  const best = valLosses.indexOf(Math.min(...valLosses)) + 1;
  const waited = run - best;
  return (
    `Stopped at epoch ${run} of ${epochs}: no better validation loss for ${waited} ` +
    `epoch${waited !== 1 ? "s" : ""}; best epoch ${best} kept.`
  );
}

// Early stopping as the server's trainer does it: after `patience` epochs without a
// better validation loss (min_delta 0), stop and keep the best epoch's weights. 0 or
// null: never stop early.
function earlyStopping(patience) {
  let best = Infinity;
  let bestEpoch = -1;
  return {
    update(epoch, valLoss) {
      if (valLoss < best) [best, bestEpoch] = [valLoss, epoch];
      return Boolean(patience) && epoch - bestEpoch >= patience;
    },
    isBest: (epoch) => epoch === bestEpoch,
  };
}

// A stored version to train further in the browser: its TF.js model, checked to be the
// LSTM → Dense network on price and volume this page trains (anything else, e.g. the
// shrunk or return presets, trains further on the server only).
export async function loadParent(tf, modelUrl) {
  let model;
  try {
    model = await tf.loadLayersModel(tf.io.http(modelUrl, { requestInit: { headers: authHeaders() } }));
  } catch (err) {
    throw new ApiError("BrowserTraining", `Could not load the version to train further: ${err.message}`);
  }
  const layers = model.layers.map((l) => l.getClassName());
  const lstm = model.layers[0].getConfig();
  if (String(layers) !== "LSTM,Dense" || lstm.recurrentActivation !== "sigmoid") {
    model.dispose();
    throw new ApiError(
      "BrowserTraining",
      `This version's network (${layers.join(" → ")}) is not the single LSTM layer this ` +
        "page trains in the browser; train it further on the server instead.",
    );
  }
  return model;
}

// Trains and saves; onEpoch gets EpochReport-shaped objects. preset: the trained preset's
// full record (presetRecord of the server's answer), stored in the metadata. parent
// ({version, modelUrl}, optional): train that stored version further (its weights are
// the start, fitFast and model.fit both continue from a model's current weights) and
// save the result with it as the parent (?parent=N, as the server's own train-further
// jobs record parent_version). Returns the server's answer to the upload (the new
// version), the metadata and the early-stop note (null when every epoch ran).
// Leaving or reloading the page ends browser training and loses the work: the browser
// asks first while a run is under way (the handler is removed when it ends).
function warnBeforeLeaving(ev) {
  ev.preventDefault();
  ev.returnValue = "";
}

export async function trainInBrowser(options) {
  window.addEventListener("beforeunload", warnBeforeLeaving);
  try {
    return await trainHere(options);
  } finally {
    window.removeEventListener("beforeunload", warnBeforeLeaving);
  }
}

async function trainHere({ coin, history, params, preset, name, user, onEpoch, cancel, parent = null }) {
  checkDesign(preset);
  const tf = await loadTf();
  const data = prepare(history, params.window, params.valFrac, params.testFrac);
  const model = parent ? await loadParent(tf, parent.modelUrl) : buildPaperModel(tf, params.window, params.units, params.lr);
  if (parent) model.compile({ optimizer: tf.train.adam(params.lr), loss: "meanSquaredError" });
  const x = tf.tensor3d(data.xs.slice(0, data.nTrain));
  const y = tf.tensor2d(data.ys.slice(0, data.nTrain), [data.nTrain, 1]);
  const valEnd = data.nTrain + data.nVal;
  const xv = tf.tensor3d(data.xs.slice(data.nTrain, valEnd));
  const yv = tf.tensor2d(data.ys.slice(data.nTrain, valEnd), [data.nVal, 1]);
  const stopper = earlyStopping(params.patience);
  let kept = null; // TF.js fit: the best epoch's weights, when stopping early
  const t0 = performance.now();
  try {
    const onEpochEnd = async (epoch, logs) => {
      const elapsed = (performance.now() - t0) / 1000;
      const done = epoch + 1;
      onEpoch({
        epoch: done,
        epochs: params.epochs,
        loss: logs.loss,
        val_loss: logs.val_loss,
        elapsed_s: elapsed,
        eta_s: (elapsed / done) * (params.epochs - done),
      });
      if (stopper.update(epoch, logs.val_loss)) model.stopTraining = true;
      if (cancel.cancelled) model.stopTraining = true;
      await tf.nextFrame();
    };
    const keepBest = (epoch) => {
      if (!stopper.isBest(epoch)) return;
      tf.dispose(kept || []);
      kept = model.getWeights().map((w) => w.clone());
    };
    // The fused kernel by default (fast_fit.js); TF.js's own fit with ?kernel=tfjs.
    const fit = kernelChoice() === "fast"
      ? await fitFast(tf, model, data, params, onEpochEnd, params.patience ? stopper.isBest : null)
      : await model.fit(x, y, {
          epochs: params.epochs,
          batchSize: params.batchSize,
          shuffle: true,
          validationData: [xv, yv],
          callbacks: { onEpochEnd: async (epoch, logs) => { await onEpochEnd(epoch, logs); if (params.patience) keepBest(epoch); } },
        });
    if (cancel.cancelled) {
      throw new ApiError("TrainingCancelledError", "Training was cancelled; nothing was saved.");
    }
    if (kept) model.setWeights(kept);
    const losses = fit.history.loss;
    const note = stopNote(fit.history.val_loss || [], params.epochs);
    const meta = evaluateAndDescribe(tf, model, data, history, {
      coin,
      params,
      preset,
      epochsRun: losses.length,
      loss: losses[losses.length - 1],
      valLoss: fit.history.val_loss ? fit.history.val_loss[losses.length - 1] : null,
      elapsed: (performance.now() - t0) / 1000,
    });
    model.setUserDefinedMetadata(meta);
    const target = url(paths.model(user, name)) + (parent ? `?parent=${encodeURIComponent(parent.version)}` : "");
    let result;
    try {
      result = await model.save(tf.io.http(target, { requestInit: { method: "POST", headers: authHeaders() } }));
    } catch (err) {
      throw new ApiError("BrowserTraining", `The model trained, but saving it failed: ${err.message}`);
    }
    const response = result.responses && result.responses[0];
    const saved = response && response.ok ? await response.json().catch(() => null) : null;
    if (response && !response.ok) {
      const body = await response.json().catch(() => null);
      const why = (body && body.error && body.error.message) || `the server answered ${response.status}`;
      throw new ApiError("BrowserTraining", `The model trained, but saving it failed: ${why}`);
    }
    return { saved, metadata: meta, note };
  } finally {
    tf.dispose([x, y, xv, yv, ...(kept || [])]);
    model.dispose();
  }
}
