// The one place that knows the REST API's paths (docs/api.md) and its error shape.
// Every failure becomes an ApiError whose message a person can act on, so the page never
// shows a stack trace or a blank screen.

export const API = "/api/v1";
const TOKEN_KEY = "coincast.token";

export class ApiError extends Error {
  constructor(type, message, status = 0) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

export function getToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

export function authHeaders() {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// Reads the server's `{"error": {"type", "message"}}` body; anything else (a proxy's HTML
// page, an empty body) still yields a sentence instead of raw text.
async function toApiError(response) {
  let type = "HttpError";
  let message = `The server answered ${response.status} ${response.statusText}.`;
  let field = null; // the form field a validation error is about (server/messages.py)
  try {
    const body = await response.json();
    if (body && body.error) {
      type = body.error.type || type;
      message = body.error.message || message;
      field = body.error.field || null;
    } else if (body && typeof body.detail === "string") {
      message = body.detail;
    } else if (body && Array.isArray(body.detail)) {
      message = body.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
    }
  } catch {
    /* not JSON: keep the status sentence */
  }
  return Object.assign(new ApiError(type, message, response.status), { field });
}

export async function request(path, { method = "GET", body, headers = {}, signal } = {}) {
  const init = { method, headers: { ...authHeaders(), ...headers }, signal };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path.startsWith("/") ? path : `${API}/${path}`, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(
      "Unreachable",
      "The coincast server cannot be reached. Check that `coincast serve` (or `make run`) " +
        "is still running, then reload the page.",
    );
  }
  if (!response.ok) throw await toApiError(response);
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

const enc = encodeURIComponent;
export const paths = {
  me: () => "me",
  presets: () => "presets",
  coins: (limit = 100) => `coins?limit=${limit}`,
  history: (coin) => `coins/${enc(coin)}/history`,
  refresh: (coin) => `coins/${enc(coin)}/refresh`,
  models: (user) => `users/${enc(user)}/models`,
  model: (user, name) => `users/${enc(user)}/models/${enc(name)}`,
  versions: (user, name) => `users/${enc(user)}/models/${enc(name)}/versions`,
  version: (user, name, v) => `users/${enc(user)}/models/${enc(name)}/versions/${enc(v)}`,
  forecast: (user, name, v) => `users/${enc(user)}/models/${enc(name)}/versions/${enc(v)}/forecast`,
  jobs: (user) => `users/${enc(user)}/jobs`,
  job: (user, id) => `users/${enc(user)}/jobs/${enc(id)}`,
  jobEvents: (user, id) => `users/${enc(user)}/jobs/${enc(id)}/events`,
  jobCancel: (user, id) => `users/${enc(user)}/jobs/${enc(id)}/cancel`,
};

export function url(path) {
  return `${API}/${path}`;
}

// Server-Sent Events over fetch: EventSource cannot send an Authorization header, and a
// token in the query string would end up in access logs.
export async function streamEvents(path, onEvent, signal) {
  let response;
  try {
    response = await fetch(url(path), {
      headers: { ...authHeaders(), Accept: "text/event-stream" },
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") return;
    throw new ApiError("Unreachable", "Lost the connection to the server while training.");
  }
  if (!response.ok) throw await toApiError(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (err) {
      if (err.name === "AbortError") return;
      throw err;
    }
    if (chunk.done) return;
    buffer += chunk.value.replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue;
      let payload = data.join("\n");
      try {
        payload = JSON.parse(payload);
      } catch {
        /* plain text event */
      }
      if (onEvent(event, payload) === false) return;
    }
  }
}

// Accepts the history both as columns ({dates, price, volume}) and as rows
// ([{date, price, volume}]), so the chart does not care how the server packs it.
export function normaliseHistory(body) {
  if (body && Array.isArray(body.dates)) return { dates: body.dates, price: body.price, volume: body.volume };
  const rows = Array.isArray(body) ? body : body.history || body.points || body.rows || [];
  return {
    dates: rows.map((r) => r.date),
    price: rows.map((r) => r.price),
    volume: rows.map((r) => r.volume),
  };
}
