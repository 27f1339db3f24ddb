// Reattach to server training after a reload: a job runs on in the server whether or not
// a page watches it, so on load (and after signing in) the page asks which of the user's
// jobs are still queued or running, gives each a progress box again (a copy of #progress,
// its loss curve replayed from the job's recorded epochs), follows it to the end and then
// refreshes the model library, as if the page had never been reloaded.
//
// Each reattached job has a box of its own rather than taking #progress: train.js owns that
// one for a job started now, and both can run at once (the server allows several per user).

import { paths, request, streamEvents } from "./api.js";
import { useModel } from "./forecast.js";
import { loadLibrary } from "./library.js";
import { Progress } from "./progress.js";
import { state } from "./state.js";
import { $, el } from "./ui.js";

const ACTIVE = ["queued", "running"];
const FINAL = ["succeeded", "failed", "cancelled"];
const POLL_MS = 1000; // when the event stream breaks, the job's JSON is read this often

const attached = new Set(); // job ids with a box on the page

// A copy of the #progress box whose ids end in "-JOB" (Progress finds its parts by them).
function boxFor(job) {
  const box = $("#progress").cloneNode(true);
  const suffix = `-${job.id}`;
  box.removeAttribute("id");
  for (const node of box.querySelectorAll("[id]")) node.id += suffix;
  box.querySelector(".chart").replaceChildren();
  box.classList.add("job-box");
  box.dataset.job = job.id;
  box.dataset.model = job.name;
  const cancel = el("button", { type: "button", class: "job-cancel" }, "Cancel");
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      await request(paths.jobCancel(state.user, job.id), { method: "POST" });
    } catch (err) {
      box.querySelector(".job-title").textContent += ` — could not cancel: ${err.message}`;
      cancel.disabled = false;
    }
  });
  const title = el(
    "p",
    { class: "job-title small" },
    el("strong", {}, job.name),
    ` (${job.coin}, ${job.preset}) trains on the server; this page reattached to it after a reload.`,
  );
  box.prepend(el("div", { class: "row" }, title, cancel));
  box.hidden = false;
  $("#jobs").append(box);
  return { box, progress: new Progress(box, suffix), cancel };
}

// Follows the job's events to its final status; a broken stream falls back to polling.
async function follow(job, progress) {
  let final = null;
  let shown = 0; // epochs drawn, so the polling fallback adds only new ones
  const onEvent = (event, data) => {
    if (event === "epoch") {
      progress.epoch(data);
      shown += 1;
    } else if (data && FINAL.includes(data.status)) {
      final = data;
      return false;
    }
    return true;
  };
  try {
    await streamEvents(paths.jobEvents(state.user, job.id), onEvent);
  } catch {
    /* the connection dropped: poll below */
  }
  while (!final) {
    const now = await request(paths.job(state.user, job.id));
    for (const report of now.history.slice(shown)) progress.epoch(report);
    shown = now.history.length;
    if (FINAL.includes(now.status)) final = now;
    else await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return final;
}

function outcome(job) {
  if (job.status === "succeeded") {
    const version = job.result && job.result.version;
    const saved = `Done: saved as ${job.name}${version ? ` v${version}` : ""}.`;
    return [job.note ? `${saved} ${job.note}` : saved, "done"];
  }
  if (job.status === "cancelled") return ["Cancelled; no new version was saved.", "cancelled"];
  return [`Failed: ${job.error || "the server could not train this model."}`, "failed"];
}

async function reattach(job) {
  attached.add(job.id);
  const { box, progress, cancel } = boxFor(job);
  progress.start(job.epochs || 1, `Training ${job.name} on the server`);
  if (job.status === "queued") progress.set(0, "Queued: waiting for the server's training worker…");
  try {
    const final = await follow(job, progress);
    const [text, how] = outcome(final);
    progress.done(text, how);
    if (how === "done") {
      await loadLibrary();
      // As after training started here: the new version is ready to forecast, unless the
      // person has chosen another model meanwhile.
      if (!state.model) useModel(final.name, final.result?.version || "latest", final.coin);
    }
  } catch (err) {
    progress.done(`Lost track of this job: ${err.message} Reload the page to see it again.`, "failed");
    attached.delete(job.id);
  } finally {
    cancel.hidden = true;
    box.dataset.finished = "true";
  }
}

// Gives every queued or running job of the signed-in user a progress box; jobs already
// shown (or started by this page: state.job) are skipped, so calling it again is harmless.
export async function reattachJobs() {
  if (!state.user) return [];
  let jobs;
  try {
    jobs = (await request(paths.jobs(state.user))).jobs || [];
  } catch {
    return []; // the library and coin list already say when the server cannot be reached
  }
  const active = jobs.filter((j) => ACTIVE.includes(j.status) && !attached.has(j.id) && j.id !== state.job);
  active.sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
  for (const job of active) reattach(job);
  return active.map((j) => j.id);
}
