// Real TensorFlow.js (npm @tensorflow/tfjs) on the other side of coincast's model format.
//
//   node interop.js train-save DIR SPEC.json INPUT.json
//       builds a Sequential LSTM model as in the reference article (recurrentActivation
//       'sigmoid'), trains it briefly, saves it through tf.io.http (the exact multipart
//       upload a browser sends; fetch is replaced by one that writes the form fields to DIR),
//       then writes its predictions on INPUT to DIR/pred.json.
//   node interop.js predict DIR INPUT.json
//       loads DIR/model.json with tf.loadLayersModel(tf.io.http(...)) (the exact download
//       path: model.json, then each manifest path resolved against the model URL), and
//       writes the predictions on INPUT and the model's metadata to DIR/pred.json.
//
// No server: a file-backed fetchFunc stands in for the network, so these checks isolate
// the format; the server's own tests drive the same calls over real HTTP.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

const BASE = 'http://coincast.invalid/api/v1/users/u/models/m/versions/1/';

function inputTensor(file) {
  return tf.tensor3d(JSON.parse(fs.readFileSync(file, 'utf8')));
}

function writePredictions(dir, model, input, extra) {
  const y = model.predict(inputTensor(input));
  const out = {pred: Array.from(y.dataSync()), ...extra};
  fs.writeFileSync(path.join(dir, 'pred.json'), JSON.stringify(out));
}

// A deterministic, learnable series: windows of (sin, cos) → next sin.
function trainingData(window, features, n) {
  const xs = [];
  const ys = [];
  for (let i = 0; i < n; i++) {
    const rows = [];
    for (let t = 0; t < window; t++) {
      const a = 0.3 * (i + t);
      rows.push(Array.from({length: features}, (_, f) => Math.sin(a + f)));
    }
    xs.push(rows);
    ys.push([Math.sin(0.3 * (i + window))]);
  }
  return [tf.tensor3d(xs), tf.tensor2d(ys)];
}

async function trainSave(dir, specFile, input) {
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
  const model = tf.sequential();
  spec.units.forEach((units, k) => {
    const cfg = {
      units,
      recurrentActivation: spec.recurrentActivation || 'sigmoid',
      returnSequences: k < spec.units.length - 1,
    };
    if (k === 0) cfg.inputShape = [spec.window, spec.features];
    model.add(tf.layers.lstm(cfg));
    if (spec.dropout > 0) model.add(tf.layers.dropout({rate: spec.dropout}));
  });
  model.add(tf.layers.dense({units: 1}));
  model.compile({optimizer: tf.train.adam(0.01), loss: 'meanSquaredError'});
  const [x, y] = trainingData(spec.window, spec.features, spec.n);
  const history = await model.fit(x, y, {epochs: spec.epochs, batchSize: 16, verbose: 0});
  if (spec.metadata) model.setUserDefinedMetadata(spec.metadata);

  const fetchFunc = async (url, init) => {
    const form = init.body; // FormData built by tf.io.http
    const json = await form.get('model.json').text();
    fs.writeFileSync(path.join(dir, 'model.json'), json);
    const weights = form.get('model.weights.bin');
    const buf = weights ? Buffer.from(await weights.arrayBuffer()) : Buffer.alloc(0);
    fs.writeFileSync(path.join(dir, 'model.weights.bin'), buf);
    fs.writeFileSync(path.join(dir, 'upload.json'), JSON.stringify({url, method: init.method}));
    return new Response('{}', {status: 200, headers: {'Content-Type': 'application/json'}});
  };
  await model.save(tf.io.http(BASE, {fetchFunc}));
  writePredictions(dir, model, input, {loss: history.history.loss});
}

async function predict(dir, input) {
  const requested = [];
  const fetchFunc = async (url) => {
    requested.push(url);
    const file = path.join(dir, new URL(url).pathname.split('/').pop());
    if (!fs.existsSync(file)) return new Response('missing', {status: 404});
    const type = file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    return new Response(fs.readFileSync(file), {status: 200, headers: {'Content-Type': type}});
  };
  const model = await tf.loadLayersModel(tf.io.http(BASE + 'model.json', {fetchFunc}));
  writePredictions(dir, model, input, {
    requested,
    metadata: model.getUserDefinedMetadata() || null,
    layers: model.layers.map((l) => l.getClassName()),
  });
}

async function main() {
  const [cmd, dir, a, b] = process.argv.slice(2);
  if (cmd === 'train-save') await trainSave(dir, a, b);
  else if (cmd === 'predict') await predict(dir, a);
  else throw new Error(`unknown command ${cmd}; use train-save or predict`);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
