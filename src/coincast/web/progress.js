// The training progress box, shared by server jobs and browser training so both look and
// read the same: bar with percentage, epoch/loss/ETA line, live loss curve, rotating hints.
// The page's own box is #progress; a server job reattached after a reload gets a copy of
// it (reattach.js) whose ids carry the job's id, so several jobs can run side by side.

import { fmtLoss, lossChart } from "./charts.js";
import { state } from "./state.js";
import { $, HINTS, fmtDuration } from "./ui.js";

export class Progress {
  // box: the .progress-box; suffix: what its parts' ids end with ("" for #progress).
  constructor(box = $("#progress"), suffix = "") {
    this.box = box;
    this.suffix = suffix;
    this.plot = null;
    this.timer = null;
    this.hint = 0;
    this.percent = 0;
    this.epochs = [];
  }

  part(id) {
    return this.box.querySelector(`#${CSS.escape(id + this.suffix)}`);
  }

  start(epochs, label) {
    this.box.hidden = false;
    this.box.dataset.state = "running";
    this.total = epochs;
    this.epochs = [];
    this.plot = lossChart(this.part("loss-chart"));
    if (!this.suffix) state.charts.loss = this.plot;
    this.set(0, `${label}: preparing…`);
    this.rotate();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.rotate(), 6000);
  }

  rotate() {
    this.part("progress-hint").textContent = HINTS[this.hint % HINTS.length];
    this.hint += 1;
  }

  set(percent, text) {
    this.percent = Math.max(0, Math.min(100, percent));
    const shown = Math.floor(this.percent);
    this.part("progress-fill").style.width = `${this.percent}%`;
    this.part("progress-label").textContent = `${shown} %`;
    this.box.querySelector(".bar").setAttribute("aria-valuenow", String(shown));
    if (text !== undefined) this.part("progress-text").textContent = text;
  }

  // report: {epoch, epochs, loss, val_loss, eta_s, elapsed_s} (EpochReport's fields)
  epoch(report) {
    const epochs = report.epochs || this.total;
    this.epochs.push(report);
    const xs = this.epochs.map((r) => r.epoch);
    const loss = this.epochs.map((r) => r.loss);
    const val = this.epochs.map((r) => (r.val_loss == null ? null : r.val_loss));
    this.plot.setData([xs, loss, val]);
    const parts = [`Epoch ${report.epoch} of ${epochs}`, `loss ${fmtLoss(report.loss, 3)}`];
    if (report.val_loss != null) parts.push(`val loss ${fmtLoss(report.val_loss, 3)}`);
    if (report.eta_s != null) parts.push(`about ${fmtDuration(report.eta_s)} left`);
    this.set((100 * report.epoch) / epochs, parts.join(" · "));
  }

  done(text, state = "done") {
    clearInterval(this.timer);
    this.box.dataset.state = state;
    if (state === "done") this.set(100, text);
    else this.part("progress-text").textContent = text;
  }
}
