// The page's one state object, also exposed as window.coincast for debugging and for the
// browser tests (they read chart data from here instead of guessing from pixels alone).

export const state = {
  user: null, // who the server says we are
  mode: null, // "token" | "local"
  coins: [],
  coin: null, // selected coin id
  history: null, // {dates, price, volume}
  model: null, // {name, version} chosen for forecasting
  job: null, // running server job id
  charts: { history: null, loss: null, forecast: null },
  timings: {}, // ms: pageReady, coins, history, forecast
  lastForecast: null,
};

window.coincast = { state };
