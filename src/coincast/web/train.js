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
  NAME_PATTERN,
  checkField,
  checkName,
  fieldInput,
  formValue,
  loadPresets,
  presetRecord,
  toParams,
} from "./presets.js";
import { Progress } from "./progress.js";
import { state } from "./state.js";
import { $, clearError, clearFieldErrors, el, fmtDuration, showError, showFieldError } from "./ui.js";

const progress = new Progress();
let cancelToken = null;
// {name, version, coin, modelUrl, design: {window, units, dropout}, browserReason} when
// training further (design and the browser's verdict once the version has been read).
let parent = null;
let catalog = null; // loadPresets(): {default, fields, presets}, once the server answered
const edited = new Set(); // fields the person typed into since a preset was last chosen

// Training further changes the schedule only (coincast.api.SCHEDULE_KEYS): the network
// and its inputs are the stored version's, shown and fixed in the form.
const FURTHER_FIXED = ["window", "units", "dropout"];

function where() {
  return $("#train-form").elements.where.value;
}

// Model names default to COIN-PRESET until the person types their own or trains further.
function nameFromPreset() {
  if (state.coin && !parent) $("#model-name").value = `${state.coin}-${$("#preset").value}`;
}

const shownFields = () => FIELDS.filter((f) => catalog.fields[f.key]);

// Fills the fields with the chosen preset's values, except where the person typed their
// own (kept across server/browser switches). Browser training always trains the
// BROWSER_PRESET, so choosing it switches the preset (its values fill the untyped fields).
function renderFields() {
  if (!catalog) return;
  const browser = where() === "browser";
  if (browser && $("#preset").value !== BROWSER_PRESET) {
    $("#preset").value = BROWSER_PRESET;
    nameFromPreset();
  }
  const typed = Object.fromEntries([...edited].filter((k) => $(`#hp-${k}`)).map((k) => [k, $(`#hp-${k}`).value]));
  const preset = catalog.presets[$("#preset").value];
  $("#preset-help").textContent = preset.description;
  $("#hyper").replaceChildren(
    ...shownFields().map((f) => {
      const kept = Boolean(parent && parent.design && FURTHER_FIXED.includes(f.key));
      const fixed = browser && BROWSER_FIXED.includes(f.key);
      const input = fieldInput(f, catalog.fields[f.key]);
      if (kept) input.value = formValue(f, parent.design[f.key]);
      else input.value = f.key in typed ? typed[f.key] : formValue(f, preset.params[f.key]);
      input.disabled = fixed || kept;
      input.addEventListener("input", () => edited.add(f.key));
      const help = kept ? `kept from v${parent.version}: training further changes the schedule only`
        : fixed ? "not used in the browser" : f.help;
      return el("label", { title: f.help }, `${f.label} `, input, el("small", {}, help));
    }),
  );
  $("#preset").disabled = browser;
  updateWhere();
  updateEstimate();
}

// The browser choice: offered unless the version trained further cannot train here.
function updateWhere() {
  const radio = $("#train-form").querySelector("input[name='where'][value='browser']");
  const reason = !catalog.presets[BROWSER_PRESET] ? "The server has no paper preset to train in the browser."
    : parent && parent.browserReason ? parent.browserReason : "";
  radio.disabled = Boolean(reason);
  if (reason && radio.checked) $("#train-form").elements.where.value = "server";
  const help = $("#where-help");
  help.textContent = reason ||
    (parent ? `Either way, v${parent.version}'s weights train further and the new version records it as its parent.` : "");
  help.hidden = !help.textContent;
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

// What trains in this browser, in words, from estimateSeconds' kernel and backend.
function engineWords(est) {
  if (est.kernel === "tfjs") return `TensorFlow.js, ${est.backend} backend`;
  const products = est.kernel === "wasm-simd" ? "WebAssembly SIMD" : "plain JavaScript (no WebAssembly SIMD here)";
  return `fused LSTM kernel in ${products}; TensorFlow.js, ${est.backend} backend, evaluates the model`;
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
      `${est.windows} windows (${engineWords(est)}; measured here).`;
  } catch (err) {
    if (run === estimateRun) box.textContent = `No estimate: ${err.message}`;
  }
}

export function onCoinChanged() {
  nameFromPreset();
  updateEstimate();
}

// Reads the version to train further: the network's fixed settings (shown in the form)
// and whether this browser can train it (the single-LSTM paper design only).
async function describeParent(p) {
  try {
    const info = await request(paths.version(state.user, p.name, p.version));
    const model = await request(info.model_json_url);
    const meta = model.userDefinedMetadata || {};
    const preset = meta.preset || {};
    const topology = model.modelTopology || {};
    const layers = ((topology.config && topology.config.layers) || []).map((l) => l.class_name);
    p.modelUrl = info.model_json_url;
    p.design = { window: meta.window, units: preset.units, dropout: preset.dropout };
    const fits = meta.target === "level" && String(meta.features) === "price,volume" && !preset.shrink &&
      String(layers) === "LSTM,Dense";
    p.browserReason = fits ? null
      : `${p.name} v${p.version} trains further on the server only: it is a ${preset.name || "different"} model ` +
        `(${layers.join(" → ")} on ${meta.features} → ${meta.target}), and this browser trains the single ` +
        "LSTM → Dense network on price and volume (the paper design) only.";
  } catch (err) {
    p.browserReason = `${p.name} v${p.version} trains further on the server only: it could not be read here (${err.message}).`;
  }
}

export async function trainFurther(name, version, coin) {
  const p = { name, version, coin, browserReason: "Reading this version…" };
  parent = p;
  $("#model-name").value = name;
  $("#train-form").elements.where.value = "server";
  renderFields();
  $("#train-start").textContent = `Train ${name} v${version} further`;
  $("#train").scrollIntoView({ behavior: "smooth" });
  await describeParent(p);
  if (parent === p) renderFields();
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
  return { saved: final.result || final, note: final.note || null };
}

// The input a message is about: the server's `error.field` (a TrainParams key or a
// JobIn field), else the field whose label the message names (a failed job's message is
// in the form's words, e.g. "… Choose a shorter Window (days) …").
function inputFor(err) {
  const key = err.field || (/^Invalid model name/.test(err.message || "") ? "name" : null);
  if (key === "name") return $("#model-name");
  if (key === "preset") return $("#preset");
  if (key && $(`#hp-${key}`)) return $(`#hp-${key}`);
  if (err.type === "InsufficientHistoryError") return $("#hp-window");
  const named = shownFields().find((f) => (err.message || "").includes(catalog.fields[f.key].label));
  return named ? $(`#hp-${named.key}`) : null;
}

// Client-side checks, with the server's limits and words: every bad value gets its
// message under its field; true when the form may be sent.
function checkForm() {
  clearFieldErrors($("#train-form"));
  let ok = true;
  const nameProblem = checkName($("#model-name").value.trim());
  if (nameProblem) {
    showFieldError($("#model-name"), nameProblem);
    ok = false;
  }
  for (const f of shownFields()) {
    const input = $(`#hp-${f.key}`);
    const problem = input.disabled ? null : checkField(f, catalog.fields[f.key], input.value);
    if (problem) {
      showFieldError(input, problem);
      ok = false;
    }
  }
  if (!ok) {
    const first = $("#train-form [aria-invalid='true']");
    if (first) first.focus();
  }
  return ok;
}

function showNote(note) {
  const box = $("#train-note");
  box.textContent = note || "";
  box.hidden = !note;
}

async function onSubmit(ev) {
  ev.preventDefault();
  if (!state.coin || !state.history) {
    showError(new ApiError("NoDataError", "Pick a coin with history first (section 1)."), "Training");
    return;
  }
  if (!state.user) {
    showError(new ApiError("AuthError", "Sign in first: training saves a model under your user."), "Training");
    return;
  }
  if (!catalog) {
    showError(new ApiError("Unreachable", "The server's presets have not loaded; reload the page once `coincast serve` runs."), "Training");
    return;
  }
  clearError();
  showNote(null);
  if (!checkForm()) return;
  const name = $("#model-name").value.trim();
  const params = toParams(values());
  const browser = where() === "browser";
  const label = browser ? "Training in this browser" : "Training on the server";
  progress.start(params.epochs, label);
  running(true);
  try {
    let out;
    if (browser) {
      cancelToken = { cancelled: false };
      out = await trainInBrowser({
        coin: state.coin,
        history: state.history,
        params: browserParams(params),
        preset: presetRecord(catalog.presets[BROWSER_PRESET]),
        name,
        user: state.user,
        onEpoch: (r) => progress.epoch(r),
        cancel: cancelToken,
        parent: parent && { version: parent.version, modelUrl: parent.modelUrl },
      });
    } else {
      out = await trainOnServer(name, params);
    }
    const { saved, note } = out;
    const version = saved && (saved.version ?? saved.model_version);
    progress.done(`Done: saved as ${name}${version ? ` v${version}` : ""}.${note ? ` ${note}` : ""}`);
    showNote(note);
    parent = null;
    $("#train-start").textContent = "Train";
    renderFields();
    await loadLibrary();
    useModel(name, version || "latest", state.coin);
  } catch (err) {
    const cancelled = err.type === "TrainingCancelledError" || err.name === "AbortError";
    const shown = err.type ? err : new ApiError(browser ? "BrowserTraining" : "TrainingFailed", err.message);
    progress.done(cancelled ? "Cancelled." : `${label} failed: ${shown.message}`, cancelled ? "cancelled" : "failed");
    if (!cancelled) {
      showError(shown, "Training");
      const input = inputFor(shown);
      if (input) showFieldError(input, shown.message);
    }
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
    edited.clear(); // choosing a preset loads its values
    renderFields();
    nameFromPreset();
  });
  for (const r of $("#train-form").elements.where) r.addEventListener("change", renderFields);
  $("#hyper").addEventListener("change", updateEstimate);
  $("#train-form").addEventListener("submit", onSubmit);
  $("#train-cancel").addEventListener("click", onCancel);
  $("#model-name").pattern = NAME_PATTERN;
  try {
    catalog = await loadPresets();
  } catch (err) {
    $("#preset-help").textContent = "The server's presets could not be loaded; reload once it is reachable.";
    showError(err, "Loading presets");
    return;
  }
  $("#preset").replaceChildren(...Object.keys(catalog.presets).map((name) => el("option", { value: name }, name)));
  $("#preset").value = catalog.default;
  renderFields();
  nameFromPreset();
}
