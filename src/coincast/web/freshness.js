// "Data ends 2024-12-31, 701 days ago": the server's notice beside the history chart and
// the forecast, with a Refresh button that asks the server for the missing days.

import { paths, request } from "./api.js";
import { el } from "./ui.js";

// Shows `body.notice` (a history or forecast response) in `box`; hides it when fresh.
export function showFreshness(box, body, coin) {
  box.dataset.stale = String(Boolean(body && body.stale));
  if (!body || !body.stale || !body.notice) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const message = el("span", { class: "fresh-message" });
  const button = el("button", { type: "button", class: "fresh-refresh" }, "Refresh");
  button.addEventListener("click", () => refresh(coin, button, message));
  box.replaceChildren(el("span", { class: "fresh-text" }, body.notice), " ", button, " ", message);
  box.hidden = false;
}

async function refresh(coin, button, message) {
  button.disabled = true;
  message.textContent = "Fetching the missing days from CoinGecko…";
  try {
    const res = await request(paths.refresh(coin), { method: "POST" });
    message.textContent = res.added
      ? `Added ${res.added} day(s), up to ${res.last_date}.`
      : `No new days: CoinGecko has nothing after ${res.last_date ?? "the stored data"}.`;
    if (res.added) document.dispatchEvent(new CustomEvent("coincast:data-refreshed", { detail: coin }));
  } catch (err) {
    message.textContent =
      err.type === "SourceUnreachableError" || err.type === "Unreachable"
        ? `Could not refresh: CoinGecko cannot be reached from the server. Connect to the internet and try again, or import a newer CSV (\`coincast data import FILE --coin ${coin}\`).`
        : `Could not refresh: ${err.message}`;
    message.dataset.state = "error";
  } finally {
    button.disabled = false;
  }
}
