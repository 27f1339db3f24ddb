// Hyperparameters shown in the form, with defaults per preset and a one-line explanation.
// Defaults mirror coincast.model.presets; the server validates whatever is sent, so a
// stale default here can only produce a clear 4xx, never a silently different model.

export const FIELDS = [
  { key: "window", label: "Window (days)", type: "number", min: 5, max: 365, step: 1,
    help: "How many past days the model sees to predict the next one." },
  { key: "epochs", label: "Epochs", type: "number", min: 1, max: 1000, step: 1,
    help: "Passes over the training data; more fits better until it starts memorising." },
  { key: "units", label: "LSTM units", type: "text", pattern: "\\d+(\\s*,\\s*\\d+)*",
    help: "Memory cells per layer; comma-separate for stacked layers (e.g. 64, 32)." },
  { key: "dropout", label: "Dropout", type: "number", min: 0, max: 0.9, step: 0.05,
    help: "Fraction of signals dropped while training, against overfitting." },
  { key: "batch_size", label: "Batch size", type: "number", min: 1, max: 4096, step: 1,
    help: "Windows per weight update; smaller is noisier but often generalises better." },
  { key: "lr", label: "Learning rate", type: "number", min: 0.00001, max: 1, step: "any",
    help: "Adam's step size; lower is slower and steadier." },
  { key: "patience", label: "Early-stop patience", type: "number", min: 0, max: 1000, step: 1,
    help: "Stop after this many epochs without a better validation loss (0 = never)." },
];

export const PRESETS = {
  paper: { window: 30, epochs: 50, units: "50", dropout: 0, batch_size: 32, lr: 0.001, patience: 0 },
  deep: { window: 30, epochs: 100, units: "64, 32", dropout: 0.2, batch_size: 32, lr: 0.001, patience: 10 },
  shrunk: { window: 30, epochs: 50, units: "50", dropout: 0, batch_size: 32, lr: 0.001, patience: 5 },
};

// Browser training runs the paper architecture only; these fields do not apply there.
export const BROWSER_FIXED = ["dropout", "patience"];

// Form values → the JSON the jobs API takes (units as a list, 0 patience as none).
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
    patience: Number(values.patience) > 0 ? Number(values.patience) : null,
  };
}
