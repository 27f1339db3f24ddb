// The fused kernel (web/lstm_fast.js) against real TensorFlow.js on the same weights.
//
//   node tests/tfjs/lstm_fast.mjs check OUT.json [backend]
//     builds the page's paper model (LSTM(50, recurrentActivation 'sigmoid') → Dense(1),
//     Adam(0.001), MSE) with random weights, then writes to OUT.json:
//       forward:  max |fast - model.predict| over 70 random windows (incl. a partial batch)
//       step:     on one batch of 32 from the same weights: |Δ| of the loss; per weight,
//                 max |Δ| of the gradient (tf.variableGrads) relative to its largest
//                 gradient; then max |Δ| of the weights after one model.trainOnBatch and
//                 one kernel step
//       epochs:   three epochs in the same batch order: the losses per epoch and the
//                 largest weight difference at the end, for the kernel on WebAssembly
//                 SIMD (fast) and on its plain-JS fallback (js)
//     Written for tests/web/test_lstm_fast.py, which holds the tolerances.
import { createRequire } from "module";
import fs from "fs";
import path from "path";
import { fileURLToPath, pathToFileURL } from "url";

const require = createRequire(import.meta.url);
const tf = require("@tensorflow/tfjs");
const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.join(here, "..", "..", "src", "coincast", "web");

async function loadFast() {
  // web/*.js are browser ES modules without a package.json "type": import by file URL
  // from a copy with the .mjs extension so Node parses them as modules.
  const dir = fs.mkdtempSync(path.join(fs.realpathSync(require("os").tmpdir()), "lstmfast-"));
  for (const f of ["lstm_fast.js", "lstm_gemm.js", "lstm_wasm.js"]) {
    const src = fs.readFileSync(path.join(web, f), "utf8").replace(/from "\.\/(\w+)\.js"/g, 'from "./$1.mjs"');
    fs.writeFileSync(path.join(dir, f.replace(/\.js$/, ".mjs")), src);
  }
  const url = (f) => pathToFileURL(path.join(dir, f)).href;
  return { ...(await import(url("lstm_fast.mjs"))), ...(await import(url("lstm_gemm.mjs"))) };
}

// A small deterministic generator so runs are reproducible.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function model(window, units, lr) {
  const m = tf.sequential();
  m.add(tf.layers.lstm({ units, inputShape: [window, 2], recurrentActivation: "sigmoid" }));
  m.add(tf.layers.dense({ units: 1 }));
  m.compile({ optimizer: tf.train.adam(lr), loss: "meanSquaredError" });
  return m;
}

const weightsOf = (m) => m.getWeights().map((w) => w.dataSync().slice());
const maxAbs = (a, b) => a.reduce((mx, v, i) => Math.max(mx, Math.abs(v - b[i])), 0);

async function check(out, backend) {
  await tf.setBackend(backend);
  const { FastLstm, createGemm } = await loadFast();
  const T = 30;
  const U = 50;
  const N = 71; // the last batch of 7: odd, and partial
  const r = rng(7);
  const xs = Float32Array.from({ length: N * T * 2 }, () => r());
  const ys = Float32Array.from({ length: N }, () => r());
  const ref = model(T, U, 1e-3);
  // Random weights larger than the initial ones so every gate is exercised.
  ref.setWeights(ref.getWeights().map((w) => tf.randomUniform(w.shape, -0.4, 0.4, "float32", 11)));
  const shape = { window: T, features: 2, units: U, batchSize: 32, lr: 1e-3 };
  const fast = new FastLstm(shape, createGemm("wasm"));
  const slow = new FastLstm(shape, createGemm("js")); // the fallback, trained alongside
  const w0 = weightsOf(ref);
  fast.setWeights(w0);
  slow.setWeights(w0);
  const x = tf.tensor3d(xs, [N, T, 2]);
  const forward = maxAbs(fast.predict(xs, N), ref.predict(x).dataSync());

  const order = Int32Array.from({ length: N }, (_, i) => i);
  const xb = tf.tensor3d(xs.subarray(0, 32 * T * 2), [32, T, 2]);
  const yb = tf.tensor2d(ys.subarray(0, 32), [32, 1]);
  // Gradients first (tf.variableGrads of the compiled loss), then one Adam step each.
  const vars = ref.trainableWeights.map((w) => w.val);
  const { grads } = tf.variableGrads(() => tf.losses.meanSquaredError(yb, ref.apply(xb)), vars);
  const refGrads = vars.map((v) => grads[v.name].dataSync());
  const refLoss = await ref.trainOnBatch(xb, yb);
  fast.load(xs, ys, order, 0, 32);
  fast.forward(32);
  const fastLoss = fast.backward(32);
  const fastGrads = fast.sizes.map((n, k) => fast.grads.slice(fast.offsets[k], fast.offsets[k] + n));
  fast.adam();
  slow.trainBatch(xs, ys, order, 0, 32);
  const w1 = weightsOf(ref);
  const f1 = fast.getWeights();
  const largest = (a) => a.reduce((mx, v) => Math.max(mx, Math.abs(v)), 0);
  const step = {
    loss: Math.abs(refLoss - fastLoss),
    grads: refGrads.map((g, k) => maxAbs(g, fastGrads[k]) / largest(g)),
    weights: Math.max(...w1.map((w, k) => maxAbs(w, f1[k]))),
  };

  // Three epochs, the same order for both (TF.js fit without shuffle walks 0 … N-1).
  const y = tf.tensor2d(ys, [N, 1]);
  const fit = await ref.fit(x, y, { epochs: 3, batchSize: 32, shuffle: false, verbose: 0 });
  const fastEpochs = [0, 1, 2].map(() => fast.trainEpoch(xs, ys, order));
  const slowEpochs = [0, 1, 2].map(() => slow.trainEpoch(xs, ys, order));
  const s3 = slow.getWeights();
  const w3 = weightsOf(ref);
  const f3 = fast.getWeights();
  const epochs = {
    tfjs: fit.history.loss,
    fast: fastEpochs,
    js: slowEpochs,
    weights: Math.max(...w3.map((w, k) => maxAbs(w, f3[k]))),
    jsWeights: Math.max(...w3.map((w, k) => maxAbs(w, s3[k]))),
  };
  const kernels = [fast.gemm.kind, slow.gemm.kind];
  fs.writeFileSync(out, JSON.stringify({ backend: tf.getBackend(), kernels, forward, step, epochs }));
}

const [cmd, out, backend = "cpu"] = process.argv.slice(2);
if (cmd !== "check") throw new Error(`unknown command ${cmd}; use check`);
check(out, backend).catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
