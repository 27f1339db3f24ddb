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

// Daily data: the x axis steps in whole days and up (uPlot's own steps go down to hours,
// so a zoom showed "12:00am"), labelled in UTC as the dates are; hover shows the date only.
const DAY = 86400;
const MONTH = DAY * 30; // uPlot steps months by the calendar from this size on
const YEAR = DAY * 365;
const DAY_INCRS = [DAY, 2 * DAY, 7 * DAY, 14 * DAY, MONTH, 2 * MONTH, 3 * MONTH, 6 * MONTH, YEAR, 2 * YEAR, 5 * YEAR, 10 * YEAR];
const utc = (opts) => new Intl.DateTimeFormat("en-US", { timeZone: "UTC", ...opts });
const YEAR_FMT = utc({ year: "numeric" });
const MONTH_FMT = utc({ month: "short", year: "numeric" });
const DAY_FMT = utc({ month: "short", day: "numeric" });

export function isoDay(sec) {
  return sec == null ? "—" : new Date(sec * 1000).toISOString().slice(0, 10);
}

function dayLabel(sec, incr) {
  const fmt = incr >= YEAR ? YEAR_FMT : incr >= MONTH ? MONTH_FMT : DAY_FMT;
  return fmt.format(new Date(sec * 1000));
}

const DAY_SERIES = { label: "Date", value: (u, v) => isoDay(v) };
// Ticks at UTC midnights, where the daily points are, whatever the browser's time zone.
const UTC_DATES = { tzDate: (sec) => window.uPlot.tzDate(new Date(sec * 1000), "Etc/UTC") };
const DAY_AXIS = { incrs: DAY_INCRS, values: (u, splits, ax, space, incr) => splits.map((v) => dayLabel(v, incr)) };

// Log axis ticks: uPlot puts one at every 1…9 × 10ⁿ (dense bands of gridlines); these are
// the sparsest of 10ⁿ, 1-3, 1-2-5, 1-1.5-2-3-5-7 per decade giving at least three ticks,
// and every other decade (or sparser) when the price spans many.
const LOG_MULTS = [[1], [1, 3], [1, 2, 5], [1, 1.5, 2, 3, 5, 7]];
export function logSplits(u, axisIdx, min, max) {
  if (!(min > 0) || !(max > min)) return [min, max].filter(Number.isFinite);
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const step = Math.max(1, Math.ceil((hi - lo) / 7));
  let out = [];
  for (const mults of LOG_MULTS) {
    out = [];
    for (let e = lo; e <= hi; e += step) {
      for (const m of mults) {
        const v = Number((m * 10 ** e).toPrecision(3));
        if (v >= min * 0.999 && v <= max * 1.001) out.push(v);
      }
    }
    if (out.length >= 3) break;
  }
  return out;
}

// Loss values as plain decimals ("0.005", "0.0125", "0"), not "5e-3" / "0e+0"; tiny ones
// as a power of ten people read ("2×10⁻⁶").
const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
export function fmtLoss(v, digits = 2) {
  if (v == null || !Number.isFinite(v)) return "—";
  if (v === 0) return "0";
  if (Math.abs(v) >= 1e-4) return String(Number(v.toPrecision(digits)));
  const [mant, exp] = v.toExponential(digits - 1).split("e");
  const power = `10${String(Number(exp)).replace(/[-0-9]/g, (c) => SUPERSCRIPT[c])}`;
  return `${Number(mant) === 1 ? "" : `${Number(mant)}×`}${power}`;
}

// history: {dates: [...], price: [...], volume: [...]}
export function historyChart(container, history, { log = false } = {}) {
  const opts = {
    ...UTC_DATES,
    height: 320,
    scales: { x: { time: true }, y: { distr: log ? 3 : 1 }, vol: { distr: log ? 3 : 1 } },
    series: [
      DAY_SERIES,
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
      DAY_AXIS,
      { values: (u, vals) => vals.map((v) => fmtCompact(v)), size: 70, ...(log ? { splits: logSplits } : {}) },
      {
        scale: "vol",
        side: 1,
        grid: { show: false },
        values: (u, vals) => vals.map((v) => fmtCompact(v)),
        size: 70,
        ...(log ? { splits: logSplits } : {}),
      },
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
      { label: "loss", stroke: COLORS.loss, width: 1.5, value: (u, v) => fmtLoss(v, 3) },
      { label: "val loss", stroke: COLORS.val, width: 1.5, value: (u, v) => fmtLoss(v, 3) },
    ],
    // Whole epochs only on the x axis; loss ticks as plain decimals (fmtLoss).
    axes: [
      { label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] },
      { values: (u, vals) => vals.map((v) => fmtLoss(v, 3)), size: 64 },
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
    ...UTC_DATES,
    height: 320,
    scales: { x: { time: true } },
    series: [
      DAY_SERIES,
      { label: "Price", stroke: COLORS.price, width: 1.5, value: (u, v) => fmtUsd(v) },
      { label: "Forecast", stroke: COLORS.forecast, width: 2, value: (u, v) => fmtUsd(v) },
      { label: "Lower", stroke: "rgba(220,38,38,0.35)", width: 1, value: (u, v) => fmtUsd(v) },
      { label: "Upper", stroke: "rgba(220,38,38,0.35)", width: 1, value: (u, v) => fmtUsd(v) },
      { label: "Naive", stroke: COLORS.naive, dash: [6, 4], width: 1.5, value: (u, v) => fmtUsd(v) },
    ],
    bands: [{ series: [4, 3], fill: COLORS.band }],
    axes: [DAY_AXIS, { values: (u, vals) => vals.map((v) => fmtCompact(v)), size: 70 }],
    cursor: { drag: { x: true, y: false } },
  };
  return make(container, opts, data);
}

// How many finite points a series holds: what tests (and the status lines) check.
export function pointsDrawn(plot, seriesIdx = 1) {
  if (!plot) return 0;
  return plot.data[seriesIdx].filter((v) => v != null && Number.isFinite(v)).length;
}
