// The coin list: the server's top list plus every coin stored here (imported CSVs show up
// offline), stablecoins marked and optionally hidden, searched by id, symbol or name.
// Picking a row dispatches "coincast:select-coin" (app.js loads the history), so this
// module does not import app.js.

import { paths, request } from "./api.js";
import { state } from "./state.js";
import { $, el, fmtCompact, fmtUsd, showError } from "./ui.js";

// "eth" finds Ethereum (id, symbol or a word of the name starts with it), not Tether
// (whose name merely contains the letters): a prefix match is what people expect.
export function matches(coin, q) {
  if (!q) return true;
  const words = [coin.id, ...coin.id.split("-"), coin.symbol || "", ...(coin.name || "").split(/[\s\-_.()]+/)];
  return words.some((w) => w.toLowerCase().startsWith(q));
}

// Sub-dollar prices to 4 significant digits ($0.0000007891): six made the column of a
// 420 px card overflow and hid the 24 h volume.
const small = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumSignificantDigits: 4 });
function listPrice(x) {
  return x != null && Number.isFinite(x) && Math.abs(x) < 1 ? small.format(x) : fmtUsd(x);
}

function pick(id) {
  document.dispatchEvent(new CustomEvent("coincast:select-coin", { detail: id }));
}

function nameCell(c) {
  const cell = el("td", {}, el("strong", {}, c.name || c.id));
  if (c.symbol) cell.append(" ", el("span", { class: "muted" }, c.symbol.toUpperCase()));
  if (c.stablecoin) cell.append(" ", el("span", { class: "badge stable", title: "Pegged to 1 USD: forecasting it says little." }, "stable"));
  if (c.stored) cell.append(" ", el("span", { class: "badge stored", title: `Stored here up to ${c.last_date}` }, "stored"));
  return cell;
}

function statusText(shown, hidden, q) {
  const total = state.coins.length;
  const hiddenNote = hidden ? ` (${hidden} stablecoin${hidden === 1 ? "" : "s"} hidden)` : "";
  if (shown) {
    const order = state.coinsFresh === false ? "stored here" : "by 24 h volume";
    return `${shown} of ${total} coins, ${order}.${hiddenNote}`;
  }
  if (!total) return "No coins listed yet.";
  if (!q) return `Every listed coin is a stablecoin${hiddenNote}; untick “Hide stablecoins” to see them.`;
  return `No listed coin matches “${q}”${hiddenNote}; press Enter to load “${q}” by its CoinGecko id.`;
}

export function renderCoins() {
  const q = $("#coin-search").value.trim().toLowerCase();
  const hideStable = $("#hide-stable").checked;
  const found = state.coins.filter((c) => matches(c, q));
  const rows = hideStable ? found.filter((c) => !c.stablecoin) : found;
  $("#coin-table tbody").replaceChildren(
    ...rows.map((c) =>
      el(
        "tr",
        {
          dataset: { coin: c.id, stable: String(Boolean(c.stablecoin)) },
          class: c.id === state.coin ? "selected" : "",
          tabindex: "0",
          onclick: () => pick(c.id),
          onkeydown: (ev) => ev.key === "Enter" && pick(c.id),
        },
        el("td", {}, c.volume_rank ?? ""),
        nameCell(c),
        el("td", { class: "num" }, listPrice(c.current_price ?? c.last_price)),
        el("td", { class: "num" }, fmtCompact(c.total_volume)),
      ),
    ),
  );
  $("#coin-status").textContent = statusText(rows.length, found.length - rows.length, q);
}

export async function loadCoins() {
  const start = performance.now();
  try {
    const body = await request(paths.coins(100));
    state.coins = Array.isArray(body) ? body : body.coins || [];
    state.coinsFresh = body.top_list_fresh !== false;
    const notice = $("#coin-notice");
    notice.textContent = body.notice || "";
    notice.hidden = !body.notice;
    state.timings.coins = performance.now() - start;
    renderCoins();
  } catch (err) {
    $("#coin-status").textContent = "Could not load the coin list.";
    showError(err, "Loading coins");
  }
}

export function initCoins() {
  $("#coin-search").addEventListener("input", renderCoins);
  $("#hide-stable").addEventListener("change", renderCoins);
}
