// Small DOM helpers: the error banner, number formats, element builders.

export const $ = (sel, root = document) => root.querySelector(sel);

// Titles per error type (coincast.errors class names): the server's message says what
// to do; the title says in two words what kind of problem it is.
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
};

export function showError(err, context = "") {
  const banner = $("#banner");
  const type = (err && err.type) || "Error";
  $("#banner-title").textContent = TITLES[type] || (context ? `${context} failed.` : "Something went wrong.");
  $("#banner-text").textContent = (err && err.message) || String(err);
  banner.dataset.type = type;
  banner.hidden = false;
}

export function clearError() {
  $("#banner").hidden = true;
  delete $("#banner").dataset.type;
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
