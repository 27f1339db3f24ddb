// The training form: preset + hyperparameters, then a server job (jobs API + SSE) or
// TF.js in this browser, both reporting into the same Progress box.

import { ApiError, paths, request, streamEvents } from "./api.js";
import { estimateSeconds, trainInBrowser } from "./browser_train.js";
import { useModel } from "./forecast.js";
import { loadLibrary } from "./library.js";
import { BROWSER_FIXED, FIELDS, PRESETS, toParams } from "./presets.js";
import { Progress } from "./progress.js";
import { state } from "./state.js";
import { $, clearError, el, fmtDuration, showError } from "./ui.js";

const progress = new Progress();
let cancelToken = null;
let parent = null; // {name, version} when training further

function where() {
  return $("#train-form").elements.where.value;
}

function renderFields() {
  const preset = PRESETS[$("#preset").value];
  const browser = where() === "browser";
  $("#hyper").replaceChildren(
    ...FIELDS.map((f) => {
      const fixed = browser && BROWSER_FIXED.includes(f.key);
      const input = el("input", { name: f.key, type: f.type, id: `hp-${f.key}`, required: "" });
      for (const a of ["min", "max", "step", "pattern"]) if (f[a] !== undefined) input.setAttribute(a, f[a]);
      input.value = preset[f.key];
      input.disabled = fixed;
      return el("label", { title: f.help }, `${f.label} `, input, el("small", {}, fixed ? "not used in the browser" : f.help));
    }),
  );
  $("#preset").disabled = browser;
  if (browser) $("#preset").value = "paper";
  updateEstimate();
}

function values() {
  const out = {};
  for (const f of FIELDS) out[f.key] = $(`#hp-${f.key}`).value;
  return out;
}

let estimateRun = 0;
async function updateEstimate() {
  const box = $("#train-estimate");
  if (where() !== "browser") {
    box.textContent = "Runs on the server in the background; you can leave this section and come back.";
    return;
  }
  if (!state.history) {
    box.textContent = "Pick a coin first: the estimate is measured on its data.";
    return;
  }
  const run = ++estimateRun;
  box.textContent = "Measuring this browser's speed…";
  try {
    const p = toParams(values());
    const est = await estimateSeconds(state.history, { ...p, units: p.units[0], batchSize: p.batch_size });
    if (run !== estimateRun) return;
    box.dataset.seconds = String(est.seconds);
    box.textContent =
      `Estimated time: about ${fmtDuration(est.seconds)} for ${p.epochs} epochs over ` +
      `${est.windows} windows (TensorFlow.js, ${est.backend} backend, measured here).`;
  } catch (err) {
    if (run === estimateRun) box.textContent = `No estimate: ${err.message}`;
  }
}

export function onCoinChanged() {
  if (!parent) $("#model-name").value = `${state.coin}-${$("#preset").value}`;
  updateEstimate();
}

export function trainFurther(name, version, coin) {
  parent = { name, version };
  $("#model-name").value = name;
  $("#train-form").elements.where.value = "server";
  renderFields();
  $("#train-start").textContent = `Train ${name} v${version} further`;
  $("#train").scrollIntoView({ behavior: "smooth" });
}

function running(on) {
  $("#train-start").disabled = on;
  $("#train-cancel").hidden = !on;
  $("#train").dataset.state = on ? "running" : "idle";
}

async function trainOnServer(name, params) {
  const body = { coin: state.coin, preset: $("#preset").value, name, params };
  if (parent) body.parent_version = parent.version;
  const job = await request(paths.jobs(state.user), { method: "POST", body });
  state.job = job.id;
  cancelToken = { cancelled: false, abort: new AbortController(), serverJob: job.id };
  let final = null;
  await streamEvents(
    paths.jobEvents(state.user, job.id),
    (event, data) => {
      if (event === "epoch" || (data && data.epoch !== undefined && !data.status)) progress.epoch(data);
      if (data && ["succeeded", "failed", "cancelled"].includes(data.status)) {
        final = data;
        return false;
      }
      return true;
    },
    cancelToken.abort.signal,
  );
  if (!final) final = await request(paths.job(state.user, job.id));
  if (final.status === "failed") {
    const why = final.error && (final.error.message || final.error);
    throw new ApiError("TrainingFailed", typeof why === "string" ? why : "The server could not train this model.");
  }
  if (final.status === "cancelled") throw new ApiError("TrainingCancelledError", "Training was cancelled; no new version was saved.");
  return final.result || final;
}

async function onSubmit(ev) {
  ev.preventDefault();
  if (!state.coin || !state.history) {
    showError(new ApiError("NoDataError", "Pick a coin with history first (section 1)."));
    return;
  }
  if (!state.user) {
    showError(new ApiError("AuthError", "Sign in first: training saves a model under your user."));
    return;
  }
  clearError();
  const name = $("#model-name").value.trim();
  const params = toParams(values());
  const label = where() === "browser" ? "Training in this browser" : "Training on the server";
  progress.start(params.epochs, label);
  running(true);
  try {
    let saved;
    if (where() === "browser") {
      cancelToken = { cancelled: false };
      const out = await trainInBrowser({
        coin: state.coin,
        history: state.history,
        params: { ...params, units: params.units[0], batchSize: params.batch_size },
        name,
        user: state.user,
        onEpoch: (r) => progress.epoch(r),
        cancel: cancelToken,
      });
      saved = out.saved;
    } else {
      saved = await trainOnServer(name, params);
    }
    const version = saved && (saved.version ?? saved.model_version);
    progress.done(`Done: saved as ${name}${version ? ` v${version}` : ""}.`);
    parent = null;
    $("#train-start").textContent = "Train";
    await loadLibrary();
    useModel(name, version || "latest", state.coin);
  } catch (err) {
    const cancelled = err.type === "TrainingCancelledError" || err.name === "AbortError";
    progress.done(cancelled ? "Cancelled." : "Failed — see the message above.", cancelled ? "cancelled" : "failed");
    if (!cancelled) showError(err.type ? err : new ApiError("TrainingFailed", err.message));
  } finally {
    running(false);
    state.job = null;
  }
}

async function onCancel() {
  if (!cancelToken) return;
  cancelToken.cancelled = true;
  if (cancelToken.serverJob) {
    try {
      await request(paths.jobCancel(state.user, cancelToken.serverJob), { method: "POST" });
    } catch (err) {
      showError(err, "Cancelling");
    }
  }
}

export function initTraining() {
  $("#preset").addEventListener("change", () => {
    renderFields();
    if (state.coin && !parent) $("#model-name").value = `${state.coin}-${$("#preset").value}`;
  });
  for (const r of $("#train-form").elements.where) r.addEventListener("change", renderFields);
  $("#hyper").addEventListener("change", updateEstimate);
  $("#train-form").addEventListener("submit", onSubmit);
  $("#train-cancel").addEventListener("click", onCancel);
  renderFields();
}
