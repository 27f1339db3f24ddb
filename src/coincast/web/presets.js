// The training form's settings. Names, descriptions, defaults and limits all come from
// the server (GET /api/v1/presets: coincast.model.presets for the values, the jobs API's
// own schema for the limits), so the form offers exactly the presets the library has and
// only values the server accepts. This module knows only how each field is shown.

import { paths, request } from "./api.js";

// Presentation only: label, explanation, spinner step; `zeroIsNone` fields show "off"
// (null) as 0, so a number box can express it.
export const FIELDS = [
  { key: "window", label: "Window (days)", step: 1,
    help: "How many past days the model sees to predict the next one." },
  { key: "epochs", label: "Epochs", step: 1,
    help: "Passes over the training data; more fits better until it starts memorising." },
  { key: "units", label: "LSTM units",
    help: "Memory cells per layer; comma-separate for stacked layers (e.g. 64, 32)." },
  { key: "dropout", label: "Dropout", step: 0.05,
    help: "Fraction of signals dropped while training, against overfitting." },
  { key: "batch_size", label: "Batch size", step: 1,
    help: "Windows per weight update; smaller is noisier but often generalises better." },
  { key: "lr", label: "Learning rate", step: "any",
    help: "Adam's step size; lower is slower and steadier." },
  { key: "patience", label: "Early-stop patience", step: 1, zeroIsNone: true,
    help: "Stop after this many epochs without a better validation loss (0 = never)." },
];

// The design browser_train.js builds (LSTM → Dense on price and volume); its numbers
// come from the server like every other preset's.
export const BROWSER_PRESET = "paper";

// Browser training runs the paper architecture only, without dropout (early stopping it
// applies as the server does: browser_train.js).
export const BROWSER_FIXED = ["dropout"];

// → {default, fields: {name: limits}, presets: {name: {name, description, params, recipe}}}
export async function loadPresets() {
  const body = await request(paths.presets());
  return {
    default: body.default,
    fields: Object.fromEntries(body.fields.map((f) => [f.name, f])),
    presets: Object.fromEntries(body.presets.map((p) => [p.name, p])),
  };
}

// The preset as the library's Preset.to_dict() spells it (what model metadata stores).
export function presetRecord(preset) {
  return { name: preset.name, description: preset.description, ...preset.params, ...preset.recipe };
}

// A preset's value as the form shows it: units "64, 32", off as 0 where that means off.
export function formValue(field, value) {
  if (Array.isArray(value)) return value.join(", ");
  if (value == null) return field.zeroIsNone ? "0" : "";
  return String(value);
}

// The input for one field, carrying the server's limits. Strict bounds (lr > 0,
// dropout < 1) have no HTML attribute, so they are checked as the value changes.
export function fieldInput(field, limits) {
  const array = limits.type === "array";
  const input = document.createElement("input");
  Object.assign(input, { name: field.key, id: `hp-${field.key}`, required: true, type: array ? "text" : "number" });
  if (array) {
    const lo = Math.max(0, (limits.min_items ?? 1) - 1);
    const hi = limits.max_items == null ? "" : limits.max_items - 1;
    input.pattern = `\\d+(\\s*,\\s*\\d+){${lo},${hi}}`;
    return input;
  }
  const min = limits.minimum ?? limits.exclusive_minimum;
  const max = limits.maximum ?? limits.exclusive_maximum;
  if (min != null) input.min = String(field.zeroIsNone ? Math.min(0, min) : min);
  if (max != null) input.max = String(max);
  input.step = String(limits.type === "integer" ? 1 : field.step ?? "any");
  const strict = () => {
    const v = Number(input.value);
    const low = limits.exclusive_minimum != null && v <= limits.exclusive_minimum && !(field.zeroIsNone && v === 0);
    const high = limits.exclusive_maximum != null && v >= limits.exclusive_maximum;
    input.setCustomValidity(
      low ? `Must be more than ${limits.exclusive_minimum}.` : high ? `Must be less than ${limits.exclusive_maximum}.` : "",
    );
  };
  input.addEventListener("input", strict);
  input.addEventListener("change", strict);
  return input;
}

// Form values → the JSON the jobs API takes (units as a list; patience 0 = never stop early).
export function toParams(values) {
  const units = String(values.units)
    .split(",")
    .map((s) => parseInt(s.trim(), 10))
    .filter((u) => u > 0);
  return {
    window: Number(values.window),
    epochs: Number(values.epochs),
    units,
    dropout: Number(values.dropout),
    batch_size: Number(values.batch_size),
    lr: Number(values.lr),
    patience: Math.max(0, Number(values.patience) || 0),
  };
}

// What the server accepts for a field, in the words its 422s use (server/messages.py):
// "a whole number from 5 to 365 days". Units of a field's values as the server names them.
const UNITS = { window: " days", epochs: " epochs", patience: " epochs" };

function allowed(key, limits) {
  if (limits.type === "array") {
    return `1 to ${limits.max_items ?? 4} layer sizes, comma-separated, e.g. 64, 32`;
  }
  const lo = limits.minimum ?? limits.exclusive_minimum;
  const hi = limits.maximum ?? limits.exclusive_maximum;
  const low = limits.exclusive_minimum != null ? "above " : "";
  const high = limits.exclusive_maximum != null ? "below " : "";
  const whole = limits.type === "integer" ? "a whole number " : "";
  return `${whole}from ${low}${lo} to ${high}${hi}${UNITS[key] || ""}`;
}

function unitOf(key, value) {
  const unit = UNITS[key] || "";
  return value === 1 ? unit.replace(/s$/, "") : unit;
}

// The message for one field's typed value, or null when the server would accept it: the
// same limits (served by GET /presets) and the same sentence the server would answer.
export function checkField(field, limits, raw) {
  const label = limits.label || field.label;
  const text = String(raw ?? "").trim();
  const say = (rule) => `${label}: ${rule} (allowed: ${allowed(field.key, limits)}).`;
  if (limits.type === "array") {
    const parts = text ? text.split(",").map((s) => s.trim()) : [];
    if (!parts.length) return say("give at least one layer size");
    if (parts.some((s) => !/^\d+$/.test(s) || Number(s) < 1)) return say("each layer size must be a whole number of at least 1");
    if (limits.max_items != null && parts.length > limits.max_items) return say(`at most ${limits.max_items} layers`);
    return null;
  }
  if (!text) return say("is required");
  const v = Number(text);
  if (!Number.isFinite(v)) return say("must be a number");
  if (limits.type === "integer" && !Number.isInteger(v)) return say("must be a whole number");
  if (field.zeroIsNone && v === 0) return null; // "0 = never"
  if (limits.minimum != null && v < limits.minimum) return say(`at least ${limits.minimum}${unitOf(field.key, limits.minimum)}`);
  if (limits.exclusive_minimum != null && v <= limits.exclusive_minimum) return say(`more than ${limits.exclusive_minimum}`);
  if (limits.maximum != null && v > limits.maximum) return say(`at most ${limits.maximum}${unitOf(field.key, limits.maximum)}`);
  if (limits.exclusive_maximum != null && v >= limits.exclusive_maximum) return say(`less than ${limits.exclusive_maximum}`);
  return null;
}

// The server's rule for model names (coincast.store.registry.NAME_PATTERN and its
// validate_name message), so the form refuses what the server would and says why.
export const NAME_PATTERN = "[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}";
export const NAME_RULE = "use 1-64 characters from letters, digits, '.', '_' and '-', starting with a letter or digit";

export function checkName(name) {
  if (!name) return `Model name: is required; ${NAME_RULE}.`;
  return new RegExp(`^${NAME_PATTERN}$`, "v").test(name) ? null : `Invalid model name '${name}': ${NAME_RULE}.`;
}
