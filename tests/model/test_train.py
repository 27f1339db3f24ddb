"""train_model: learning, reproducibility, early stopping, LR decay, cancel, resume."""

from __future__ import annotations

import math

import pytest
import torch

from coincast.errors import DataError
from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.model.schedule import CancelToken, EpochReport, Plateau, TrainConfig
from coincast.model.train import train_model

pytestmark = pytest.mark.usefixtures("one_thread")


def sine_windows(
    n_days: int = 400, window: int = 12, period: float = 23.0, phase: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noiseless sine scaled to [0.1, 0.9]: x [N, window, 1], y [N] (the next day)."""
    t = torch.arange(n_days, dtype=torch.float64)
    s = (0.5 + 0.4 * torch.sin(2 * math.pi * t / period + phase)).float()
    x = s.unfold(0, window, 1)[:-1].unsqueeze(-1).contiguous()
    y = s[window:].contiguous()
    return x, y


def make_model(
    seed: int = 42, units: tuple[int, ...] = (16,), dropout: float = 0.0
) -> LSTMRegressor:
    cfg = ModelConfig(n_features=1, units=units, dropout=dropout)
    return LSTMRegressor(cfg, generator=torch.Generator().manual_seed(seed))


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def mse(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(((model(x) - y) ** 2).mean())


def test_learns_a_noiseless_sine_and_beats_naive() -> None:
    x, y = sine_windows(500)
    x_train, y_train, x_test, y_test = x[:380], y[:380], x[380:], y[380:]
    model = make_model(units=(24,))
    result = train_model(model, x_train, y_train, config=TrainConfig(epochs=40, lr=0.01))
    naive = float(((x_test[:, -1, 0] - y_test) ** 2).mean())
    assert mse(model, x_test, y_test) < 0.25 * naive
    losses = [r.loss for r in result.history]
    assert losses[-1] < 0.2 * losses[0]


def test_same_seed_same_weights_and_global_rng_untouched() -> None:
    x, y = sine_windows(200)
    cfg = TrainConfig(epochs=3, seed=7)
    runs = []
    for _ in range(2):
        model = make_model(units=(8, 8), dropout=0.3)
        before = torch.get_rng_state()
        train_model(model, x, y, config=cfg)
        assert torch.equal(before, torch.get_rng_state())
        runs.append(weights(model))
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    other = make_model(units=(8, 8), dropout=0.3)
    train_model(other, x, y, config=TrainConfig(epochs=3, seed=8))
    assert not torch.equal(runs[0]["head.weight"], other.state_dict()["head.weight"])


def test_reports_every_epoch_with_progress_fields() -> None:
    x, y = sine_windows(150)
    seen: list[EpochReport] = []
    result = train_model(
        make_model(), x[:100], y[:100], x[100:], y[100:], TrainConfig(epochs=4), seen.append
    )
    assert [r.epoch for r in seen] == [1, 2, 3, 4] == [r.epoch for r in result.history]
    assert all(r.epochs == 4 and r.val_loss is not None and r.lr == 1e-3 for r in seen)
    assert all(a.elapsed_s <= b.elapsed_s for a, b in zip(seen, seen[1:], strict=False))
    assert seen[-1].eta_s == 0.0 and seen[0].eta_s > 0.0
    # The reported validation loss is the model's loss on the validation set.
    assert seen[-1].val_loss == pytest.approx(mse(result.model, x[100:], y[100:]), rel=1e-5)


def _anti_val(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation targets mirrored around 0.5: fitting the training pattern hurts them."""
    return x, 1.0 - y


def test_early_stopping_restores_the_best_epochs_weights() -> None:
    x, y = sine_windows(300)
    xv, yv = _anti_val(x[200:], y[200:])
    model = make_model()
    per_epoch: list[dict[str, torch.Tensor]] = []
    cfg = TrainConfig(epochs=40, patience=3, lr=0.01)
    result = train_model(
        model, x[:200], y[:200], xv, yv, cfg, on_epoch=lambda r: per_epoch.append(weights(model))
    )
    assert result.stopped_early
    assert result.best_epoch is not None
    assert result.epochs_run == result.best_epoch + cfg.patience  # type: ignore[operator]
    val_losses = [r.val_loss for r in result.history]
    assert result.best_loss == min(v for v in val_losses if v is not None)
    assert result.restored_best
    best = per_epoch[result.best_epoch - 1]
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())
    assert mse(model, xv, yv) == pytest.approx(result.best_loss, rel=1e-5)


def test_without_patience_the_last_weights_are_kept() -> None:
    x, y = sine_windows(300)
    xv, yv = _anti_val(x[200:], y[200:])
    model = make_model()
    per_epoch: list[dict[str, torch.Tensor]] = []
    result = train_model(
        model,
        x[:200],
        y[:200],
        xv,
        yv,
        TrainConfig(epochs=6, lr=0.01),
        on_epoch=lambda r: per_epoch.append(weights(model)),
    )
    assert result.epochs_run == 6 and not result.stopped_early and not result.restored_best
    assert all(torch.equal(per_epoch[-1][k], v) for k, v in model.state_dict().items())


def test_lr_decays_on_plateau_following_the_rule() -> None:
    x, y = sine_windows(300)
    xv, yv = _anti_val(x[200:], y[200:])
    cfg = TrainConfig(epochs=12, lr=0.02, lr_decay_patience=1, lr_decay_factor=0.5, min_lr=4e-3)
    result = train_model(make_model(), x[:200], y[:200], xv, yv, cfg)
    lrs = [r.lr for r in result.history]
    # Replay the documented rule on the reported validation losses.
    expected, lr, rule = [], cfg.lr, Plateau(cfg.lr_decay_patience)
    for report in result.history:
        expected.append(lr)
        assert report.val_loss is not None
        _, plateaued = rule.step(report.val_loss)
        if plateaued and lr > cfg.min_lr:
            lr, rule.wait = max(lr * cfg.lr_decay_factor, cfg.min_lr), 0
    assert lrs == pytest.approx(expected)
    assert min(lrs) < cfg.lr  # it did decay on this data...
    assert min(lrs) >= cfg.min_lr  # ...and never below the floor


def test_cancel_between_epochs_keeps_the_best_completed_epoch() -> None:
    x, y = sine_windows(300)
    xv, yv = _anti_val(x[200:], y[200:])
    model = make_model()
    token = CancelToken()
    per_epoch: list[dict[str, torch.Tensor]] = []

    def on_epoch(report: EpochReport) -> None:
        per_epoch.append(weights(model))
        if report.epoch == 3:
            token.cancel()

    result = train_model(
        model, x[:200], y[:200], xv, yv, TrainConfig(epochs=20, lr=0.01), on_epoch, token
    )
    assert result.cancelled and token.cancelled
    assert result.epochs_run == 3
    assert result.best_epoch is not None
    best = per_epoch[result.best_epoch - 1]
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())


class CancelAfter(CancelToken):
    """Cancels itself at its n-th check: training checks once per batch."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.checks = n, 0

    @property
    def cancelled(self) -> bool:
        self.checks += 1
        if self.checks >= self.n:
            self.cancel()
        return super().cancelled


@pytest.mark.parametrize("dropout", [0.0, 0.2], ids=["kernel", "reference"])
def test_cancel_mid_epoch_stops_at_the_next_batch_and_restores(dropout: float) -> None:
    x, y = sine_windows(400)
    model = make_model(units=(8,), dropout=dropout)
    batches = math.ceil(x.shape[0] / 8)
    token = CancelAfter(batches + 5)  # during the 5th batch of epoch 2
    after_epoch: list[dict[str, torch.Tensor]] = []
    result = train_model(
        model,
        x,
        y,
        config=TrainConfig(epochs=5, batch_size=8),
        on_epoch=lambda r: after_epoch.append(weights(model)),
        cancel=token,
    )
    assert result.cancelled and result.epochs_run == 1
    assert token.checks == batches + 5  # nothing ran after the cancel was seen
    assert result.restored_best  # the half-trained epoch 2 is dropped
    assert all(torch.equal(after_epoch[0][k], v) for k, v in model.state_dict().items())


def test_a_precancelled_run_changes_nothing() -> None:
    x, y = sine_windows(100)
    model = make_model()
    before = weights(model)
    token = CancelToken()
    token.cancel()
    result = train_model(model, x, y, config=TrainConfig(epochs=3), cancel=token)
    assert result.cancelled and result.epochs_run == 0 and result.best_epoch is None
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_resume_continues_from_loaded_weights() -> None:
    x, y = sine_windows(400)
    cfg = TrainConfig(epochs=8, lr=0.01)
    first = make_model()
    train_model(first, x, y, config=cfg)
    # "Train further": a new model object holding the saved weights, same function.
    resumed = make_model(seed=123)
    resumed.load_state_dict(first.state_dict())
    further = TrainConfig(epochs=2, lr=1e-3)
    resumed_run = train_model(resumed, x, y, config=further)
    fresh_run = train_model(make_model(seed=123), x, y, config=further)
    assert resumed_run.history[0].loss < 0.1 * fresh_run.history[0].loss


@pytest.mark.parametrize(
    ("x_shape", "y_shape", "dtype", "match"),
    [
        ((10, 12, 2), (10,), torch.float32, r"\[N, window, 1\]"),
        ((10, 12, 1), (9,), torch.float32, r"targets must have shape \[10\]"),
        ((10, 12, 1), (10,), torch.float64, "float32"),
        ((0, 12, 1), (0,), torch.float32, "no training windows"),
    ],
)
def test_bad_inputs_say_what_is_wrong(
    x_shape: tuple[int, ...], y_shape: tuple[int, ...], dtype: torch.dtype, match: str
) -> None:
    with pytest.raises(DataError, match=match):
        train_model(
            make_model(), torch.zeros(x_shape, dtype=dtype), torch.zeros(y_shape, dtype=dtype)
        )


def test_nan_inputs_are_rejected() -> None:
    x, y = sine_windows(50)
    x[3, 2, 0] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        train_model(make_model(), x, y)
