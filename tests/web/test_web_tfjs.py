"""TF.js in the page itself (no API needed): backend choice, the paper model, learning."""

from __future__ import annotations

from typing import Any

# A smooth series the paper model can learn in a few epochs; built in the page so the
# test exercises the page's own preparation code.
_TRAIN = """async () => {
  const m = await import('./browser_train.js');
  const n = 260, dates = [], price = [], volume = [];
  for (let i = 0; i < n; i++) {
    dates.push(new Date(Date.UTC(2021, 0, 1 + i)).toISOString().slice(0, 10));
    price.push(100 + 0.2 * i + 20 * Math.sin(i / 8));
    volume.push(1e6 + 2e5 * Math.cos(i / 5));
  }
  const h = {dates, price, volume};
  const tf = await m.loadTf();
  const data = m.prepare(h, 20);
  const model = m.buildPaperModel(tf, 20, 8, 0.01);
  const x = tf.tensor3d(data.xs.slice(0, data.nTrain));
  const y = tf.tensor2d(data.ys.slice(0, data.nTrain), [data.nTrain, 1]);
  const fit = await model.fit(x, y, {epochs: 12, batchSize: 16, shuffle: false});
  const topology = model.toJSON(null, false);
  const params = {window: 20, units: 8, lr: 0.01, batchSize: 16, epochs: 12};
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
    out = page.evaluate(_TRAIN)

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
