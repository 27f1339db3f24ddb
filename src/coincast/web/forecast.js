// Forecast section: run a stored version's forecast on the server and show it as a chart
// (history, forecast, interval band, naive line), a table and the skill in plain words.

import { ApiError, normaliseHistory, paths, request } from "./api.js";
import { forecastChart, pointsDrawn } from "./charts.js";
import { showFreshness } from "./freshness.js";
import { ledgerModel, showLedger } from "./ledger.js";
import { state } from "./state.js";
import { $, clearError, el, fmtUsd, showError } from "./ui.js";

export function useModel(name, version, coin) {
  state.model = { name, version, coin };
  $("#forecast-model").textContent = `— ${name} v${version}${coin ? ` (${coin})` : ""}`;
  $("#forecast-run").disabled = false;
  $("#forecast").dataset.model = `${name}@${version}`;
}

// The server sends columns (dates, forecast, lower, upper, naive) or rows; the chart and
// table want columns.
function columns(body) {
  const rows = Array.isArray(body.rows) ? body.rows : Array.isArray(body.forecast) && typeof body.forecast[0] === "object" ? body.forecast : null;
  if (!rows) return body;
  const pick = (k) => rows.map((r) => r[k] ?? null);
  return { ...body, dates: pick("date"), forecast: pick("forecast"), lower: pick("lower"), upper: pick("upper"), naive: pick("naive") };
}

// Plain words for "does the model beat tomorrow = today?": the server's sentence (from
// the backtest's Diebold–Mariano test) when present, else the stored metrics' verdict.
export function skillSentence(body) {
  const text = body.skill_summary || body.skill || body.summary || body.metrics?.verdict || body.verdict;
  return typeof text === "string" ? text : "No backtest is stored with this model, so its skill is unknown.";
}

// The intervals in plain words: coverage, interval (Winkler) score and whether the model's
// risk forecast beats GARCH(1,1)-t and a constant band, from the stored evaluation.
export function riskSentence(body) {
  const text = body.evaluation?.risk_verdict || body.metrics?.risk_verdict;
  if (typeof text === "string") return text;
  return "No interval score is stored with this model, so whether its risk forecast beats GARCH or a constant band is unknown.";
}

function renderTable(res) {
  const head = el("tr", {}, ...["Date", "Forecast", "Lower", "Upper", "Naive"].map((h) => el("th", {}, h)));
  $("#forecast-table thead").replaceChildren(head);
  $("#forecast-table tbody").replaceChildren(
    ...res.dates.map((d, i) =>
      el(
        "tr",
        {},
        el("td", {}, d.slice(0, 10)),
        el("td", { class: "num" }, fmtUsd(res.forecast[i])),
        el("td", { class: "num" }, fmtUsd(res.lower?.[i])),
        el("td", { class: "num" }, fmtUsd(res.upper?.[i])),
        el("td", { class: "num" }, fmtUsd(res.naive?.[i])),
      ),
    ),
  );
}

async function historyFor(coin) {
  if (state.history && state.coin === coin) return state.history;
  return normaliseHistory(await request(paths.history(coin)));
}

export async function runForecast() {
  if (!state.model) return;
  const days = Number($("#forecast-days").value) || 7;
  const { name, version } = state.model;
  const start = performance.now();
  $("#forecast").dataset.state = "loading";
  $("#forecast-run").disabled = true;
  try {
    const res = columns(await request(paths.forecast(state.user, name, version), { method: "POST", body: { days } }));
    const coin = res.coin || state.model.coin || state.coin;
    if (!coin) throw new ApiError("NoDataError", "This model does not say which coin it forecasts.");
    const history = res.history ? { dates: res.history.dates, price: res.history.price } : await historyFor(coin);
    state.charts.forecast = forecastChart($("#forecast-chart"), history, res);
    renderTable(res);
    showFreshness($("#forecast-notice"), res, coin);
    $("#forecast-skill").textContent = skillSentence(res);
    $("#forecast-risk").textContent = riskSentence(res);
    if (res.disclaimer) $("#disclaimer").textContent = res.disclaimer;
    state.lastForecast = res;
    showLedger(coin, ledgerModel(res.user, state.user, name)); // the track record beside it
    state.timings.forecast = performance.now() - start;
    $("#forecast").dataset.points = String(pointsDrawn(state.charts.forecast, 2));
    $("#forecast").dataset.state = "ready";
    clearError();
  } catch (err) {
    $("#forecast").dataset.state = "error";
    showError(err, "Forecasting");
  } finally {
    $("#forecast-run").disabled = false;
  }
}

export function initForecast() {
  $("#forecast-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    runForecast();
  });
}
