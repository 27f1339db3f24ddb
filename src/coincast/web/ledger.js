// The model's track record beside its forecast: past forecasts against what happened
// (GET /api/v1/ledger, the signed-in user's own ledger) and the running score vs naive.
// A ledger that cannot be read leaves the forecast as it is: it is context, not the answer.

import { request } from "./api.js";
import { $, el, fmtUsd } from "./ui.js";

const pct = (v) => (v == null ? "–" : `${(100 * v).toFixed(1)} %`);
const num = (v, d = 3) => (v == null ? "–" : v.toFixed(d));
const toSec = (d) => Date.parse(`${d}T00:00:00Z`) / 1000;

// The ledger names another user's public model "owner/name"; one's own just "name".
export function ledgerModel(owner, me, name) {
  return owner && me && owner !== me ? `${owner}/${name}` : name;
}

function scoreTable(record) {
  const head = el("tr", {}, ...["Window", "Scored", "MAE / naive", "Coverage", "Direction", "Verdict"].map((h) => el("th", {}, h)));
  const rows = record.map((t) =>
    el("tr", {}, el("td", {}, t.window), el("td", {}, String(t.n)), el("td", {}, num(t.mae_ratio)),
      el("td", {}, pct(t.coverage)), el("td", {}, `${pct(t.direction)} (p ${num(t.direction_p, 3)})`),
      el("td", {}, t.verdict)),
  );
  return el("table", { class: "values", id: "ledger-score" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

// One-day-ahead forecasts (and naive) against the realised price, by target day.
function pastChart(container, rows) {
  const day1 = rows.filter((r) => r.horizon === 1);
  const data = [
    day1.map((r) => toSec(r.target_date)),
    day1.map((r) => r.actual),
    day1.map((r) => r.forecast),
    day1.map((r) => r.naive),
  ];
  container.replaceChildren();
  const opts = {
    width: Math.max(280, container.clientWidth || 600),
    height: 220,
    scales: { x: { time: true } },
    series: [
      {},
      { label: "Happened", stroke: "#2563eb", width: 1.5, value: (u, v) => fmtUsd(v) },
      { label: "1-day forecast", stroke: "#dc2626", width: 1.5, value: (u, v) => fmtUsd(v) },
      { label: "Naive", stroke: "#64748b", dash: [6, 4], width: 1, value: (u, v) => fmtUsd(v) },
    ],
  };
  new window.uPlot(opts, data, container);
  return day1.filter((r) => r.actual != null).length;
}

export async function showLedger(coin, model) {
  const box = $("#ledger");
  if (!box) return;
  try {
    const body = await request(`ledger?coin=${encodeURIComponent(coin)}&model=${encodeURIComponent(model)}`);
    const record = body.track_record[model] || [];
    const scored = body.rows.filter((r) => r.actual != null).length;
    const chart = el("div", { class: "chart", id: "ledger-chart" });
    box.replaceChildren(
      el("h3", {}, `Track record of ${model} on ${coin}`),
      el("p", { class: "muted" }, `${body.rows.length} forecast day(s) kept, ${scored} scored against what happened.`),
      chart,
      scoreTable(record),
    );
    box.dataset.rows = String(body.rows.length);
    box.dataset.scored = String(scored);
    box.dataset.points = String(body.rows.length ? pastChart(chart, body.rows) : 0);
    box.dataset.state = "ready";
  } catch (err) {
    box.replaceChildren(el("p", { class: "muted" }, `The track record is not available: ${err.message}`));
    box.dataset.state = "error";
  }
}
