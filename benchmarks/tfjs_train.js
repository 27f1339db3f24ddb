// Train the paper model with TensorFlow.js in Node, for bench_train.py's side-by-side.
//
// usage: node benchmarks/tfjs_train.js <data.bin> <n> <window> <features> <backend> <epochs>
//   data.bin: float32 little-endian, n*window*features inputs then n targets
//   backend:  cpu (pure JS) | wasm
// Prints one JSON line: {"backend", "epochs", "epoch_s": [...], "loss": [...]}.
//
// The model is the paper preset as coincast builds it: LSTM(50) with
// recurrentActivation 'sigmoid' (TF.js defaults to hardSigmoid; PyTorch has the true
// sigmoid), Dense(1), Adam(0.001), MSE, batch 32, shuffled every epoch.
"use strict";

const fs = require("fs");
const path = require("path");
const tf = require("@tensorflow/tfjs");

async function main() {
  const [file, nArg, windowArg, featArg, backend, epochsArg] = process.argv.slice(2);
  const n = Number(nArg);
  const window = Number(windowArg);
  const features = Number(featArg);
  const epochs = Number(epochsArg);
  if (backend === "wasm") {
    const wasm = require("@tensorflow/tfjs-backend-wasm");
    const dist = path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm")), "/");
    wasm.setWasmPaths(dist);
  }
  await tf.setBackend(backend);
  await tf.ready();

  const buf = fs.readFileSync(file);
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const xs = tf.tensor3d(all.subarray(0, n * window * features), [n, window, features]);
  const ys = tf.tensor2d(all.subarray(n * window * features, n * window * features + n), [n, 1]);

  const model = tf.sequential();
  model.add(
    tf.layers.lstm({ units: 50, inputShape: [window, features], recurrentActivation: "sigmoid" }),
  );
  model.add(tf.layers.dense({ units: 1 }));
  model.compile({ optimizer: tf.train.adam(0.001), loss: "meanSquaredError" });

  const epochS = [];
  const loss = [];
  let last = process.hrtime.bigint();
  await model.fit(xs, ys, {
    epochs,
    batchSize: 32,
    shuffle: true,
    verbose: 0,
    callbacks: {
      onEpochEnd: async (_epoch, logs) => {
        const now = process.hrtime.bigint();
        epochS.push(Number(now - last) / 1e9);
        loss.push(logs.loss);
        last = now;
      },
    },
  });
  process.stdout.write(
    JSON.stringify({ backend: tf.getBackend(), epochs, epoch_s: epochS, loss }) + "\n",
  );
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
