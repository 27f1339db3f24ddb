"""TF.js in the page itself (no API needed): backend choice, the paper model, learning."""

from __future__ import annotations

from typing import Any

from coincast.model.presets import PRESETS

# A smooth series the paper model can learn in a few epochs; built in the page so the
# test exercises the page's own preparation code.
_TRAIN = """async (paper) => {
  const m = await import('./browser_train.js');
  const n = 260, dates = [], price = [], volume = [];
  for (let i = 0; i < n; i++) {
    dates.push(new Date(Date.UTC(2021, 0, 1 + i)).toISOString().slice(0, 10));
    price.push(100 + 0.2 * i + 20 * Math.sin(i / 8));
    volume.push(1e6 + 2e5 * Math.cos(i / 5));
  }
  const h = {dates, price, volume};
  const tf = await m.loadTf();
  const data = m.prepare(h, 20, paper.val_frac, paper.test_frac);
  const model = m.buildPaperModel(tf, 20, 8, 0.01);
  const x = tf.tensor3d(data.xs.slice(0, data.nTrain));
  const y = tf.tensor2d(data.ys.slice(0, data.nTrain), [data.nTrain, 1]);
  const fit = await model.fit(x, y, {epochs: 12, batchSize: 16, shuffle: false});
  const topology = model.toJSON(null, false);
  const params = {window: 20, units: 8, lr: 0.01, batchSize: 16, epochs: 12,
                  valFrac: paper.val_frac, testFrac: paper.test_frac};
  const est = await m.estimateSeconds(h, params);
  tf.dispose([x, y]);
  const trainMax = Math.max(...price.slice(0, data.trainEnd));
  return {loss: fit.history.loss, backend: tf.getBackend(), topology, est, split: data,
          trainMax, allMax: Math.max(...price)};
}"""


def test_paper_model_learns_in_the_browser(page: Any, static_site: str) -> None:
    page.route("**/api/v1/**", lambda route: route.abort("connectionrefused"))
    page.goto(static_site + "/")
    page.wait_for_selector("body[data-ready='true']")
    out = page.evaluate(_TRAIN, PRESETS["paper"].to_dict())

    # --disable-gpu leaves only a software WebGL, so the page must pick WASM.
    assert out["backend"] == "wasm"
    lstm = out["topology"]["config"]["layers"][0]
    assert lstm["class_name"] == "LSTM"
    assert lstm["config"]["recurrent_activation"] == "sigmoid"
    assert lstm["config"]["units"] == 8
    loss = out["loss"]
    assert len(loss) == 12
    assert loss[-1] < 0.5 * loss[0]
    # 240 targets: 24 validation, 24 test, the rest train; scaler from training days only.
    split = out["split"]
    assert (split["nTrain"], split["nVal"], split["nTest"]) == (192, 24, 24)
    assert split["trainEnd"] == 20 + 192
    # The series rises, so a scaler that saw the later days would have a higher max.
    assert split["maxs"][0] == out["trainMax"] < out["allMax"]
    assert out["est"]["seconds"] > 0 and out["est"]["windows"] == 192


# Trains in the page, then hands Python exactly what tf.io.http would upload.
_EXPORT = """async (paper) => {
  const m = await import('./browser_train.js');
  const ev = await import('./browser_eval.js');
  const n = 300, dates = [], price = [], volume = [];
  for (let i = 0; i < n; i++) {
    dates.push(new Date(Date.UTC(2022, 0, 1 + i)).toISOString().slice(0, 10));
    price.push(200 + 0.3 * i + 25 * Math.sin(i / 9));
    volume.push(5e6 + 1e6 * Math.cos(i / 6));
  }
  const h = {dates, price, volume};
  const tf = await m.loadTf();
  const data = m.prepare(h, 15, paper.val_frac, paper.test_frac);
  const model = m.buildPaperModel(tf, 15, 6, 0.01);
  const x = tf.tensor3d(data.xs.slice(0, data.nTrain));
  const y = tf.tensor2d(data.ys.slice(0, data.nTrain), [data.nTrain, 1]);
  await model.fit(x, y, {epochs: 5, batchSize: 16});
  tf.dispose([x, y]);
  const params = {units: 6, epochs: 5, batchSize: 16, lr: 0.01};
  const meta = ev.evaluateAndDescribe(tf, model, data, h,
    {coin: 'sine', params, preset: paper, epochsRun: 5, loss: 0, valLoss: 0, elapsed: 1});
  const path = ev.predictPaths(tf, model, data, h, [n - 1], 7)[0];
  let art;
  await model.save(tf.io.withSaveHandler(async (a) => { art = a; return {}; }));
  const modelJson = {
    modelTopology: art.modelTopology, format: 'layers-model', generatedBy: 'test',
    convertedBy: null, userDefinedMetadata: meta,
    weightsManifest: [{paths: ['model.weights.bin'], weights: art.weightSpecs}],
  };
  return {modelJson, weights: Array.from(new Uint8Array(art.weightData)), path, meta};
}"""


def test_browser_model_forecasts_the_same_in_python(page: Any, static_site: str) -> None:
    """The metadata the page writes is a valid coincast forecaster: Python rebuilds it
    and forecasts the same prices as the page's own iterative forecast."""
    import json

    import numpy as np

    from coincast.api import Forecaster
    from coincast.store.tfjs.read import from_tfjs

    page.route("**/api/v1/**", lambda route: route.abort("connectionrefused"))
    page.goto(static_site + "/")
    page.wait_for_selector("body[data-ready='true']")
    out = page.evaluate(_EXPORT, PRESETS["paper"].to_dict())

    model, window, meta = from_tfjs(json.dumps(out["modelJson"]).encode(), bytes(out["weights"]))
    assert window == 15
    fc = Forecaster.from_model(model, meta)
    frame = fc.forecast(7)
    np.testing.assert_allclose(frame["forecast"].to_numpy(), out["path"], rtol=1e-4)
    assert (frame["lower"] < frame["forecast"]).all() and (frame["forecast"] < frame["upper"]).all()
    assert np.isfinite(frame["upper"]).all()
    q = out["meta"]["intervals"]["quantiles"]
    assert len(q) == 7 and all(v is not None and v > 0 for v in q)
    table = {r["method"]: r for r in out["meta"]["metrics"]["table"]}
    assert table["model"]["rmse"] > 0 and table["naive"]["rmse"] > 0
