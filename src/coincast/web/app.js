// Entry point: sign-in, coin picker and history chart; the other sections live in their
// own modules (train.js, forecast.js, library.js) and share `state`.

import { ApiError, getToken, normaliseHistory, paths, request, setToken } from "./api.js";
import { historyChart, pointsDrawn } from "./charts.js";
import { initCoins, loadCoins, renderCoins } from "./coins.js";
import { initForecast } from "./forecast.js";
import { showFreshness } from "./freshness.js";
import { initLibrary, loadLibrary } from "./library.js";
import { reattachJobs } from "./reattach.js";
import { state } from "./state.js";
import { initTraining, onCoinChanged, trainFurther } from "./train.js";
import { $, clearError, el, showError } from "./ui.js";

// The token field and Sign in mean something only when the server requires tokens: shown
// then (a 401, or a token mode), hidden in local single-user mode and while signed in.
function showSignIn(show) {
  $("#token").hidden = !show;
  $("#signin-submit").hidden = !show;
}

async function whoAmI() {
  const who = $("#who");
  try {
    const me = await request(paths.me());
    state.user = me.user;
    state.mode = me.mode || (getToken() ? "token" : "local");
    who.textContent = state.mode === "local" ? `Local mode (${me.user})` : `Signed in as ${me.user}`;
    who.dataset.state = state.mode;
    $("#signout").hidden = !getToken();
    showSignIn(state.mode !== "local" && !getToken());
    return true;
  } catch (err) {
    state.user = null;
    who.textContent = "Not signed in";
    who.dataset.state = "none";
    $("#signout").hidden = true;
    showSignIn(err instanceof ApiError && err.status === 401);
    if (err instanceof ApiError && err.status === 401) {
      showError(
        new ApiError("AuthError", `${err.message} Paste a token from \`coincast users add NAME\` above.`),
      );
    } else {
      showError(err);
    }
    return false;
  }
}

function bindSignIn() {
  $("#signin").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = $("#token").value.trim();
    if (!token) return;
    setToken(token);
    $("#token").value = "";
    clearError();
    if (await whoAmI()) {
      loadLibrary();
      reattachJobs();
    } else {
      setToken("");
    }
  });
  $("#signout").addEventListener("click", async () => {
    setToken("");
    await whoAmI();
    loadLibrary();
  });
  $("#banner-close").addEventListener("click", clearError);
}

function drawHistory() {
  if (!state.history) return;
  state.charts.history = historyChart($("#history-chart"), state.history, { log: $("#log-scale").checked });
  $("#history").dataset.points = String(pointsDrawn(state.charts.history));
}

// #coin=ID selects a coin on load, so a chart can be linked to or bookmarked.
function fromHash() {
  const id = new URLSearchParams(location.hash.slice(1)).get("coin");
  if (id && id !== state.coin) selectCoin(id);
}

export async function selectCoin(id) {
  state.coin = id;
  if (new URLSearchParams(location.hash.slice(1)).get("coin") !== id) {
    history.replaceState(null, "", `#coin=${encodeURIComponent(id)}`);
  }
  renderCoins();
  const coin = state.coins.find((c) => c.id === id);
  $("#history-coin").textContent = coin ? `— ${coin.name}` : `— ${id}`;
  $("#history").dataset.state = "loading";
  const start = performance.now();
  try {
    const body = await request(paths.history(id));
    state.history = normaliseHistory(body);
    state.timings.history = performance.now() - start;
    if (!state.history.dates.length) {
      throw new ApiError("NoDataError", `The server holds no history for ${id} yet.`);
    }
    clearError();
    drawHistory();
    showFreshness($("#history-notice"), body, id);
    $("#history").dataset.lastDate = body.last_date || "";
    $("#history").dataset.state = "ready";
    onCoinChanged();
  } catch (err) {
    state.history = null;
    showFreshness($("#history-notice"), null, id);
    $("#history").dataset.state = "error";
    $("#history-chart").replaceChildren(el("p", { class: "empty" }, "No chart: see the message above."));
    showError(err, "Loading history");
  }
}

async function main() {
  bindSignIn();
  initCoins();
  // Enter loads the only match, or any CoinGecko id typed in full (coins outside the top 100).
  $("#coin-search").addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    const q = ev.target.value.trim().toLowerCase();
    const shown = [...document.querySelectorAll("#coin-table tbody tr")];
    if (shown.length === 1) selectCoin(shown[0].dataset.coin);
    else if (q && !shown.length) selectCoin(q);
  });
  window.addEventListener("hashchange", fromHash);
  $("#log-scale").addEventListener("change", drawHistory);
  document.addEventListener("coincast:select-coin", (ev) => {
    if (ev.detail !== state.coin || !state.history) selectCoin(ev.detail);
  });
  // A Refresh beside a stale chart added days: redraw and update the list's last prices.
  document.addEventListener("coincast:data-refreshed", (ev) => {
    if (ev.detail === state.coin) selectCoin(ev.detail);
    loadCoins();
  });
  const training = initTraining(); // fetches the presets meanwhile
  initForecast();
  initLibrary({ trainFurther });
  await whoAmI();
  await Promise.all([loadCoins(), loadLibrary(), training, reattachJobs()]);
  fromHash();
  // ms since navigation start: the page is usable (coins listed, library loaded).
  state.timings.pageReady = performance.now();
  document.body.dataset.ready = "true";
}

main();
