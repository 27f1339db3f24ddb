// Real TensorFlow.js (npm @tensorflow/tfjs, Node's own fetch) against a live coincast
// server: the exact HTTP a browser's tf.io.http / tf.loadLayersModel sends.
//
//   node http_roundtrip.js save URL TOKEN INPUT.json OUT.json
//       builds the reference article's paper model (LSTM(50, recurrentActivation
//       'sigmoid') → Dense(1), window 30, 2 features), trains it for one epoch, saves it
//       with model.save(tf.io.http(URL, {requestInit: {method: 'POST', headers:
//       {Authorization}}})), and writes its predictions on INPUT and the server's answer.
//   node http_roundtrip.js load MODEL_JSON_URL TOKEN INPUT.json OUT.json
//       tf.loadLayersModel(URL, {requestInit: {headers: {Authorization}}}), predicts INPUT.
//
// TOKEN "-" sends no Authorization header.
'use strict';
const fs = require('fs');
const tf = require('@tensorflow/tfjs');

function requestInit(token, extra = {}) {
  const headers = token === '-' ? {} : {Authorization: `Bearer ${token}`};
  return {...extra, headers};
}

function predictions(model, input) {
  const x = tf.tensor3d(JSON.parse(fs.readFileSync(input, 'utf8')));
  return Array.from(model.predict(x).dataSync());
}

function trainingData(window, n) {
  const xs = [];
  const ys = [];
  for (let i = 0; i < n; i++) {
    const rows = [];
    for (let t = 0; t < window; t++) rows.push([Math.sin(0.2 * (i + t)), Math.cos(0.1 * (i + t))]);
    xs.push(rows);
    ys.push([Math.sin(0.2 * (i + window))]);
  }
  return [tf.tensor3d(xs), tf.tensor2d(ys)];
}

async function save(url, token, input, out) {
  const window = 30;
  const model = tf.sequential();
  model.add(tf.layers.lstm({units: 50, recurrentActivation: 'sigmoid', inputShape: [window, 2]}));
  model.add(tf.layers.dense({units: 1}));
  model.compile({optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError'});
  const [x, y] = trainingData(window, 64);
  await model.fit(x, y, {epochs: 1, batchSize: 32, verbose: 0});
  model.setUserDefinedMetadata({coin: 'sinecoin', window, features: ['price', 'volume']});
  const result = await model.save(
    tf.io.http(url, {requestInit: requestInit(token, {method: 'POST'})}),
  );
  const response = result.responses[0];
  const body = await response.json();
  fs.writeFileSync(out, JSON.stringify({status: response.status, body, pred: predictions(model, input)}));
}

async function load(url, token, input, out) {
  const model = await tf.loadLayersModel(url, {requestInit: requestInit(token)});
  fs.writeFileSync(
    out,
    JSON.stringify({pred: predictions(model, input), metadata: model.getUserDefinedMetadata() || null}),
  );
}

async function main() {
  const [cmd, url, token, input, out] = process.argv.slice(2);
  if (cmd === 'save') await save(url, token, input, out);
  else if (cmd === 'load') await load(url, token, input, out);
  else throw new Error(`unknown command ${cmd}; use save or load`);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
