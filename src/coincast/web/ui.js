// Small DOM helpers: the error banner and the messages where the person acted, number
// formats, element builders.

export const $ = (sel, root = document) => root.querySelector(sel);

// Titles per error type (coincast.errors class names): the server's message says what
// to do; the title says in a few plain words what failed. An unknown type falls back on
// the action ("Forecasting failed."), never on a vague "something went wrong".
const TITLES = {
  Unreachable: "Server unreachable.",
  RateLimitedError: "CoinGecko is rate-limiting us.",
  SourceUnreachableError: "CoinGecko is unreachable.",
  DataSourceError: "CoinGecko request failed.",
  ApiKeyError: "CoinGecko API key problem.",
  UnknownCoinError: "Unknown coin.",
  NoDataError: "No data for this coin.",
  InsufficientHistoryError: "Not enough history.",
  AuthError: "Sign-in needed.",
  ForbiddenError: "Not allowed.",
  ModelNotFoundError: "Model not found.",
  ModelFormatError: "Invalid model.",
  TrainingFailed: "Training failed.",
  TrainingCancelledError: "Training cancelled.",
  BrowserTraining: "Browser training failed.",
  ValidationError: "A setting is not allowed.",
  ParameterError: "A value is not allowed.",
  InvalidRequestError: "The server refused the request.",
};

// The section a person acts in for each action, so its error shows there too (the
// banner at the top is off-screen from the training form and the forecast).
const SECTION_OF = {
  Training: "train",
  Cancelling: "train",
  "Loading presets": "train",
  Forecasting: "forecast",
  Deleting: "library",
  "Loading the library": "library",
};

export function errorTitle(err, context = "") {
  const type = (err && err.type) || "Error";
  return TITLES[type] || (context ? `${context} failed.` : "The request failed.");
}

// The error box inside a section (created on first use, under its heading).
function sectionBox(section) {
  const card = document.getElementById(section);
  if (!card) return null;
  let box = document.getElementById(`${section}-error`);
  if (!box) {
    box = el("p", { class: "section-error", id: `${section}-error`, role: "alert" });
    card.firstElementChild.after(box);
  }
  return box;
}

// The banner, plus the same message in the section where the person acted (by
// `context`, or `section` when given).
export function showError(err, context = "", section = SECTION_OF[context]) {
  const banner = $("#banner");
  const type = (err && err.type) || "Error";
  const title = errorTitle(err, context);
  const text = (err && err.message) || String(err);
  $("#banner-title").textContent = title;
  $("#banner-text").textContent = text;
  banner.dataset.type = type;
  banner.hidden = false;
  const box = section ? sectionBox(section) : null;
  if (box) {
    box.replaceChildren(el("strong", {}, title), ` ${text}`);
    box.dataset.type = type;
    box.hidden = false;
  }
}

export function clearError() {
  $("#banner").hidden = true;
  delete $("#banner").dataset.type;
  for (const box of document.querySelectorAll(".section-error")) box.hidden = true;
}

// A message under one form input (aria-invalid, described by the message), where the
// person typed the value; it goes at the end of the input's label, and away once they
// type again.
export function showFieldError(input, message) {
  const id = `err-${input.name || input.id}`;
  let box = document.getElementById(id);
  if (!box) {
    box = el("p", { class: "field-error", id, role: "alert" });
    const label = input.closest("label");
    if (label) label.append(box);
    else input.after(box);
  }
  box.textContent = message;
  if (input.dataset.describedby === undefined) input.dataset.describedby = input.getAttribute("aria-describedby") || "";
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", [input.dataset.describedby, id].filter(Boolean).join(" "));
  input.addEventListener("input", () => clearFieldError(input), { once: true });
}

function clearFieldError(input) {
  const box = document.getElementById(`err-${input.name || input.id}`);
  if (box) box.remove();
  input.removeAttribute("aria-invalid");
  if (input.dataset.describedby) input.setAttribute("aria-describedby", input.dataset.describedby);
  else input.removeAttribute("aria-describedby");
  delete input.dataset.describedby;
}

export function clearFieldErrors(root = document) {
  for (const input of root.querySelectorAll("[aria-invalid]")) clearFieldError(input);
  for (const box of root.querySelectorAll(".field-error")) box.remove();
}

const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumSignificantDigits: 6 });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 });

const cents = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });

// Cents for prices of a dollar or more (so columns line up); significant digits below.
export function fmtUsd(x) {
  if (x == null || Number.isNaN(x)) return "—";
  return Math.abs(x) >= 1 ? cents.format(x) : usd.format(x);
}

export function fmtCompact(x) {
  return x == null || Number.isNaN(x) ? "—" : `$${compact.format(x)}`;
}

export function fmtNum(x, digits = 4) {
  return x == null || Number.isNaN(x) ? "—" : Number(x).toPrecision(digits);
}

export function fmtDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// Rotating hints while a model trains: what it is doing and how to read the result.
export const HINTS = [
  "Each epoch shows the model every training window once; the loss should fall, then flatten.",
  "Loss is the mean squared error on min-max scaled prices: 0.001 is about 3 % of the range.",
  "Validation loss rising while training loss falls means the model starts memorising.",
  "The model sees the last 30 days of price and volume and guesses the next day's price.",
  "Judge a forecast against the naive guess (tomorrow = today): beating it is hard for crypto.",
  "The shaded band shows how far off the model was on held-out days, at each horizon.",
  "Longer horizons feed the model its own guesses, so errors compound day by day.",
];
