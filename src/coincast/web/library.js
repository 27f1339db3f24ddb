// Model library: the user's models and versions with their metrics; load one to
// forecast, train it further on the server, or delete a version.

import { ApiError, paths, request } from "./api.js";
import { runForecast, useModel } from "./forecast.js";
import { state } from "./state.js";
import { $, el, fmtUsd, showError } from "./ui.js";

// metrics: coincast's evaluation dict ({table: [{horizon, method, rmse, mape, …}], verdict}).
export function metricsText(m) {
  const rows = (m && Array.isArray(m.table) && m.table) || [];
  const find = (method) => rows.find((r) => r.method === method && r.horizon === 1);
  const model = find("model");
  const naive = find("naive");
  if (!model) return "—";
  const parts = [`1-day RMSE ${fmtUsd(model.rmse)}`];
  if (naive) parts.push(`naive ${fmtUsd(naive.rmse)}`);
  if (model.mape != null) parts.push(`MAPE ${Number(model.mape).toFixed(2)} %`);
  return parts.join(" · ");
}

// Set by initLibrary: what "Train further" does (the training form lives in train.js,
// which imports this module to refresh the list, so this one must not import it back).
let onTrainFurther = () => {};

const list = (body, key) => (Array.isArray(body) ? body : body[key] || body.items || []);

async function versionsOf(name) {
  return list(await request(paths.versions(state.user, name)), "versions");
}

function row(model, v) {
  const coin = v.coin || v.metadata?.coin || model.coin || "";
  const version = v.version;
  const act = (label, fn, cls = "") => el("button", { type: "button", class: cls, onclick: fn }, label);
  return el(
    "tr",
    { dataset: { model: model.name, version: String(version) } },
    el("td", {}, model.name),
    el("td", {}, `v${version}`, v.parent_version ? el("small", { class: "muted" }, ` from v${v.parent_version}`) : ""),
    el("td", {}, v.created_at ? new Date(v.created_at).toLocaleString() : "—"),
    el("td", {}, coin),
    el("td", { class: "small" }, metricsText(v.metrics)),
    el(
      "td",
      { class: "actions" },
      act("Forecast", () => {
        useModel(model.name, version, coin);
        $("#forecast").scrollIntoView({ behavior: "smooth" });
        runForecast();
      }, "load"),
      act("Train further", () => {
        if (coin) document.dispatchEvent(new CustomEvent("coincast:select-coin", { detail: coin }));
        onTrainFurther(model.name, version, coin);
      }, "further"),
      act("Delete", () => remove(model.name, version), "delete"),
    ),
  );
}

async function remove(name, version) {
  if (!window.confirm(`Delete ${name} v${version}? This cannot be undone.`)) return;
  try {
    await request(paths.version(state.user, name, version), { method: "DELETE" });
    if (state.model && state.model.name === name && String(state.model.version) === String(version)) {
      state.model = null;
      $("#forecast-run").disabled = true;
    }
    await loadLibrary();
  } catch (err) {
    showError(err, "Deleting");
  }
}

export async function loadLibrary() {
  const tbody = $("#library-table tbody");
  const status = $("#library-status");
  if (!state.user) {
    tbody.replaceChildren();
    status.textContent = "Sign in to see your models.";
    return;
  }
  status.textContent = "Loading…";
  try {
    const models = list(await request(paths.models(state.user)), "models");
    const rows = [];
    for (const m of models) {
      const versions = m.versions && typeof m.versions[0] === "object" ? m.versions : await versionsOf(m.name);
      for (const v of [...versions].sort((a, b) => b.version - a.version)) rows.push(row(m, v));
    }
    tbody.replaceChildren(...rows);
    status.textContent = rows.length ? `${models.length} model(s), ${rows.length} version(s).` : "No models yet: train one above.";
    $("#library").dataset.versions = String(rows.length);
  } catch (err) {
    status.textContent = "Could not load the library.";
    showError(err.type ? err : new ApiError("Error", String(err)), "Loading the library");
  }
}

// trainFurther(name, version, coin): loads a version into the training form.
export function initLibrary({ trainFurther }) {
  onTrainFurther = trainFurther;
  $("#library-refresh").addEventListener("click", loadLibrary);
}
