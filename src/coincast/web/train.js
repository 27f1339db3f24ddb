// The training form: preset + hyperparameters, then a server job (jobs API + SSE) or
// TF.js in this browser, both reporting into the same Progress box. The presets, their
// defaults and limits are the server's (GET /api/v1/presets), loaded once at start.

import { ApiError, paths, request, streamEvents } from "./api.js";
import { estimateSeconds, trainInBrowser } from "./browser_train.js";
import { useModel } from "./forecast.js";
import { loadLibrary } from "./library.js";
import {
  BROWSER_FIXED,
  BROWSER_PRESET,
  FIELDS,
  fieldInput,
  formValue,
  loadPresets,
  presetRecord,
  toParams,
} from "./presets.js";
import { Progress } from "./progress.js";
import { state } from "./state.js";
import { $, clearError, el, fmtDuration, showError } from "./ui.js";

const progress = new Progress();
let cancelToken = null;
let parent = null; // {name, version} when training further
let catalog = null; // loadPresets(): {default, fields, presets}, once the server answered

function where() {
  return $("#train-form").elements.where.value;
}

// Model names default to COIN-PRESET until the person types their own or trains further.
function nameFromPreset() {
  if (state.coin && !parent) $("#model-name").value = `${state.coin}-${$("#preset").value}`;
}

const shownFields = () => FIELDS.filter((f) => catalog.fields[f.key]);

// Fills the fields with the chosen preset's values; browser training always trains the
// BROWSER_PRESET, so choosing it switches the preset (and its values) first.
function renderFields() {
  if (!catalog) return;
  const browser = where() === "browser";
  if (browser && $("#preset").value !== BROWSER_PRESET) {
    $("#preset").value = BROWSER_PRESET;
    nameFromPreset();
  }
  const preset = catalog.presets[$("#preset").value];
  $("#preset-help").textContent = preset.description;
  $("#hyper").replaceChildren(
    ...shownFields().map((f) => {
      const fixed = browser && BROWSER_FIXED.includes(f.key);
      const input = fieldInput(f, catalog.fields[f.key]);
      input.value = formValue(f, preset.params[f.key]);
      input.disabled = fixed;
      return el("label", { title: f.help }, `${f.label} `, input, el("small", {}, fixed ? "not used in the browser" : f.help));
    }),
  );
  $("#preset").disabled = browser;
  updateEstimate();
}

function values() {
  const out = {};
  for (const f of shownFields()) out[f.key] = $(`#hp-${f.key}`).value;
  return out;
}

// The browser's numbers: the form's, plus the split the preset prescribes.
function browserParams(p) {
  const { recipe } = catalog.presets[BROWSER_PRESET];
  return { ...p, units: p.units[0], batchSize: p.batch_size, valFrac: recipe.val_frac, testFrac: recipe.test_frac };
}

let estimateRun = 0;
async function updateEstimate() {
  const box = $("#train-estimate");
  if (where() !== "browser") {
    box.textContent = "Runs on the server in the background; you can leave this section and come back.";
    return;
  }
  if (!catalog) return;
  if (!state.history) {
    box.textContent = "Pick a coin first: the estimate is measured on its data.";
    return;
  }
  const run = ++estimateRun;
  box.textContent = "Measuring this browser's speed…";
  try {
    const p = toParams(values());
    const est = await estimateSeconds(state.history, browserParams(p));
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
  nameFromPreset();
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
  if (!catalog) {
    showError(new ApiError("Unreachable", "The server's presets have not loaded; reload the page once `coincast serve` runs."));
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
        params: browserParams(params),
        preset: presetRecord(catalog.presets[BROWSER_PRESET]),
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

// Resolves once the presets are loaded and shown (or their failure is on the banner).
export async function initTraining() {
  $("#preset").addEventListener("change", () => {
    renderFields();
    nameFromPreset();
  });
  for (const r of $("#train-form").elements.where) r.addEventListener("change", renderFields);
  $("#hyper").addEventListener("change", updateEstimate);
  $("#train-form").addEventListener("submit", onSubmit);
  $("#train-cancel").addEventListener("click", onCancel);
  try {
    catalog = await loadPresets();
  } catch (err) {
    $("#preset-help").textContent = "The server's presets could not be loaded; reload once it is reachable.";
    showError(err, "Loading presets");
    return;
  }
  $("#preset").replaceChildren(...Object.keys(catalog.presets).map((name) => el("option", { value: name }, name)));
  $("#preset").value = catalog.default;
  const browser = $("#train-form").querySelector("input[name='where'][value='browser']");
  browser.disabled = !catalog.presets[BROWSER_PRESET];
  renderFields();
  nameFromPreset();
}
