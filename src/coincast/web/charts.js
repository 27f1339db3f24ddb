// uPlot charts: history (price + volume), live training loss, forecast with its band.
// uPlot is loaded as a classic script (vendor/uPlot.iife.min.js) and read from window.

import { fmtCompact, fmtUsd } from "./ui.js";

const COLORS = {
  price: "#2563eb",
  volume: "rgba(100,116,139,0.55)",
  forecast: "#dc2626",
  band: "rgba(220,38,38,0.14)",
  naive: "#64748b",
  loss: "#2563eb",
  val: "#d97706",
};

function width(container) {
  return Math.max(280, container.clientWidth || 600);
}

function make(container, opts, data) {
  container.replaceChildren();
  const plot = new window.uPlot({ width: width(container), ...opts }, data, container);
  new ResizeObserver(() => plot.setSize({ width: width(container), height: opts.height })).observe(
    container,
  );
  return plot;
}

const toSec = (isoDates) => isoDates.map((d) => Date.parse(`${d.slice(0, 10)}T00:00:00Z`) / 1000);

// history: {dates: [...], price: [...], volume: [...]}
export function historyChart(container, history, { log = false } = {}) {
  const opts = {
    height: 320,
    scales: { x: { time: true }, y: { distr: log ? 3 : 1 }, vol: { distr: log ? 3 : 1 } },
    series: [
      {},
      { label: "Price", stroke: COLORS.price, width: 1.5, value: (u, v) => fmtUsd(v) },
      {
        label: "24 h volume",
        scale: "vol",
        stroke: COLORS.volume,
        fill: "rgba(100,116,139,0.12)",
        width: 1,
        value: (u, v) => fmtCompact(v),
      },
    ],
    axes: [
      {},
      { values: (u, vals) => vals.map((v) => fmtCompact(v)), size: 70 },
      { scale: "vol", side: 1, grid: { show: false }, values: (u, vals) => vals.map((v) => fmtCompact(v)), size: 70 },
    ],
    cursor: { drag: { x: true, y: false } },
  };
  return make(container, opts, [toSec(history.dates), history.price, history.volume]);
}

export function lossChart(container) {
  const opts = {
    height: 160,
    scales: { x: { time: false } },
    series: [
      { label: "epoch" },
      { label: "loss", stroke: COLORS.loss, width: 1.5, value: (u, v) => (v == null ? "—" : v.toExponential(2)) },
      { label: "val loss", stroke: COLORS.val, width: 1.5, value: (u, v) => (v == null ? "—" : v.toExponential(2)) },
    ],
    // Whole epochs only on the x axis; the loss spans decades, hence the exponent labels.
    axes: [
      { label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] },
      { values: (u, vals) => vals.map((v) => v.toExponential(0)), size: 60 },
    ],
  };
  return make(container, opts, [[], [], []]);
}

// result: {history: {dates, price}, dates, forecast, lower, upper, naive} — the last
// `tail` history days are drawn so the forecast is readable next to recent prices.
export function forecastChart(container, history, result, tail = 90) {
  const hd = history.dates.slice(-tail);
  const hp = history.price.slice(-tail);
  const n = hd.length;
  const m = result.dates.length;
  const pad = (arr, before) => [...Array(before).fill(null), ...arr];
  // The forecast line starts at the last known price so it visibly continues the history.
  const last = hp[n - 1];
  const joined = (arr) => [...Array(n - 1).fill(null), last, ...arr];
  const data = [
    toSec([...hd, ...result.dates]),
    [...hp, ...Array(m).fill(null)],
    joined(result.forecast),
    result.lower ? joined(result.lower) : pad(Array(m).fill(null), n),
    result.upper ? joined(result.upper) : pad(Array(m).fill(null), n),
    result.naive ? joined(result.naive) : pad(Array(m).fill(null), n),
  ];
  const opts = {
    height: 320,
    scales: { x: { time: true } },
    series: [
      {},
      { label: "Price", stroke: COLORS.price, width: 1.5, value: (u, v) => fmtUsd(v) },
      { label: "Forecast", stroke: COLORS.forecast, width: 2, value: (u, v) => fmtUsd(v) },
      { label: "Lower", stroke: "rgba(220,38,38,0.35)", width: 1, value: (u, v) => fmtUsd(v) },
      { label: "Upper", stroke: "rgba(220,38,38,0.35)", width: 1, value: (u, v) => fmtUsd(v) },
      { label: "Naive", stroke: COLORS.naive, dash: [6, 4], width: 1.5, value: (u, v) => fmtUsd(v) },
    ],
    bands: [{ series: [4, 3], fill: COLORS.band }],
    axes: [{}, { values: (u, vals) => vals.map((v) => fmtCompact(v)), size: 70 }],
    cursor: { drag: { x: true, y: false } },
  };
  return make(container, opts, data);
}

// How many finite points a series holds: what tests (and the status lines) check.
export function pointsDrawn(plot, seriesIdx = 1) {
  if (!plot) return 0;
  return plot.data[seriesIdx].filter((v) => v != null && Number.isFinite(v)).length;
}
