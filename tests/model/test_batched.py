"""train_many: several models as one computation equal each model trained alone."""

from __future__ import annotations

import math

import pytest
import torch

from coincast.errors import DataError
from coincast.model.fast.batched import BatchedEpochReport, train_many
from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.model.schedule import CancelToken, TrainConfig
from coincast.model.train import train_model, train_reference

CFG = ModelConfig(n_features=2, units=(8,))


pytestmark = pytest.mark.usefixtures("one_thread")


def series(n_days: int, period: float, phase: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A two-feature sine (price-like and volume-like) → windows of 10 and next-day targets."""
    t = torch.arange(n_days, dtype=torch.float64)
    price = 0.5 + 0.4 * torch.sin(2 * math.pi * t / period + phase)
    volume = 0.5 + 0.3 * torch.cos(2 * math.pi * t / (period * 0.7) + phase)
    feats = torch.stack([price, volume], dim=1).float()
    x = feats.unfold(0, 10, 1)[:-1].transpose(1, 2).contiguous()  # [N, 10, 2]
    y = feats[10:, 0].contiguous()
    return x, y


def datasets(
    lengths: list[int], val: bool = True
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]]:
    out = []
    for k, n in enumerate(lengths):
        x, y = series(n + 60, period=17.0 + 3 * k, phase=0.5 * k)
        if val:
            # Mirrored validation targets make the models' best epochs (and stops) differ.
            out.append((x[:n], y[:n], x[n:], 1.0 - y[n:] if k % 2 else y[n:]))
        else:
            out.append((x[:n], y[:n], None, None))
    return out


def fresh(seeds: list[int]) -> list[LSTMRegressor]:
    return [LSTMRegressor(CFG, generator=torch.Generator().manual_seed(s)) for s in seeds]


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module, atol: float) -> None:
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, atol=atol, rtol=0, msg=name)


# Different lengths (and short last batches: 150 % 32, 97 % 32, 64 % 32 == 0), not in
# length order: train_many groups models longest first and must map everything back.
LENGTHS = [97, 64, 150]


def test_each_model_equals_training_it_alone() -> None:
    data = datasets(LENGTHS)
    seeds = [1, 2, 3]
    cfg = TrainConfig(epochs=4, lr=5e-3, seed=9)
    together = fresh(seeds)
    results = train_many(together, data, cfg)
    for i, (model, result) in enumerate(zip(together, results, strict=True)):
        alone = fresh([seeds[i]])[0]
        solo = train_model(alone, *data[i], config=cfg)
        assert_same_weights(model, alone, atol=1e-5)
        assert [r.loss for r in result.history] == pytest.approx(
            [r.loss for r in solo.history], rel=1e-4
        )
        # ... and the autograd/nn.LSTM reference loop agrees too.
        ref = fresh([seeds[i]])[0]
        train_reference(ref, *data[i], config=cfg)
        assert_same_weights(model, ref, atol=1e-4)


def test_per_model_early_stopping_and_lr_decay_match_sequential() -> None:
    data = datasets(LENGTHS)
    cfg = TrainConfig(epochs=25, lr=2e-2, patience=3, lr_decay_patience=1, min_lr=5e-3)
    together = fresh([4, 5, 6])
    reports: list[BatchedEpochReport] = []
    per_model: dict[int, list[float]] = {0: [], 1: [], 2: []}
    results = train_many(
        together,
        data,
        cfg,
        on_epoch=reports.append,
        on_model_epoch=lambda i, rep: per_model[i].append(rep.loss),
    )
    solos = []
    for i, seed in enumerate([4, 5, 6]):
        alone = fresh([seed])[0]
        solos.append(train_model(alone, *data[i], config=cfg))
        assert_same_weights(together[i], alone, atol=1e-5)
    assert [r.epochs_run for r in results] == [s.epochs_run for s in solos]
    assert [r.best_epoch for r in results] == [s.best_epoch for s in solos]
    assert [r.stopped_early for r in results] == [s.stopped_early for s in solos]
    for i, (r, s) in enumerate(zip(results, solos, strict=True)):
        assert [h.lr for h in r.history] == [h.lr for h in s.history]
        # Callbacks name models by their index in the caller's list, not the grouping.
        assert per_model[i] == [h.loss for h in r.history]
        assert [rep.losses[i] for rep in reports[: r.epochs_run]] == per_model[i]
    # On this data the models stop at different epochs, so masking was exercised.
    assert len({r.epochs_run for r in results}) > 1
    assert any(r.stopped_early for r in results)
    # Overall progress: one report per joint epoch; active count never rises.
    assert [r.epoch for r in reports] == list(range(1, len(reports) + 1))
    assert len(reports) == max(r.epochs_run for r in results)
    actives = [r.active for r in reports]
    assert actives == sorted(actives, reverse=True)
    assert all(
        (rep.losses[i] is None) == (rep.epoch > results[i].epochs_run)
        for rep in reports
        for i in range(3)
    )


def test_without_validation_and_without_shuffle() -> None:
    data = datasets([70, 40], val=False)
    cfg = TrainConfig(epochs=3, shuffle=False, batch_size=16)
    together = fresh([7, 8])
    train_many(together, data, cfg)
    for i, seed in enumerate([7, 8]):
        alone = fresh([seed])[0]
        train_model(alone, *data[i], config=cfg)
        assert_same_weights(together[i], alone, atol=1e-5)


def test_cancel_stops_every_model_and_keeps_their_best_epoch() -> None:
    data = datasets(LENGTHS)
    token = CancelToken()
    models = fresh([1, 2, 3])

    def stop(report: BatchedEpochReport) -> None:
        if report.epoch == 2:
            token.cancel()

    results = train_many(models, data, TrainConfig(epochs=10), on_epoch=stop, cancel=token)
    assert all(r.cancelled and r.epochs_run == 2 and r.restored_best for r in results)


def test_models_with_and_without_validation_train_together() -> None:
    data = datasets([80, 60])
    mixed = [data[0], (data[1][0], data[1][1], None, None)]
    cfg = TrainConfig(epochs=6, patience=2, lr=2e-2)
    together = fresh([1, 2])
    results = train_many(together, mixed, cfg)
    assert results[0].history[0].val_loss is not None
    assert results[1].history[0].val_loss is None
    for i, seed in enumerate([1, 2]):
        alone = fresh([seed])[0]
        solo = train_model(alone, *mixed[i], config=cfg)
        assert solo.epochs_run == results[i].epochs_run
        assert_same_weights(together[i], alone, atol=1e-5)


def test_rejects_mixed_architectures_dropout_and_missing_data() -> None:
    data = datasets([40, 40])
    other = LSTMRegressor(ModelConfig(n_features=2, units=(4,)))
    with pytest.raises(DataError, match="one architecture"):
        train_many([fresh([1])[0], other], data)
    with pytest.raises(DataError, match="dropout"):
        train_many([LSTMRegressor(ModelConfig(n_features=2, units=(4, 4), dropout=0.2))], data[:1])
    with pytest.raises(DataError, match="one dataset"):
        train_many(fresh([1, 2]), data[:1])


def test_group_size_does_not_change_results() -> None:
    data = datasets(LENGTHS)
    cfg = TrainConfig(epochs=3, patience=1, lr=2e-2)
    grouped, whole = fresh([1, 2, 3]), fresh([1, 2, 3])
    r_grouped = train_many(grouped, data, cfg, group_size=2)
    r_whole = train_many(whole, data, cfg, group_size=None)
    assert [r.epochs_run for r in r_grouped] == [r.epochs_run for r in r_whole]
    for a, b in zip(grouped, whole, strict=True):
        assert_same_weights(a, b, atol=1e-6)


def test_worker_threads_give_the_same_models_and_restore_the_thread_count() -> None:
    """With 2 torch threads, groups of models train in 2 worker threads (one core each)."""
    data = datasets(LENGTHS)
    cfg = TrainConfig(epochs=3, patience=1, lr=2e-2)
    one, two = fresh([1, 2, 3]), fresh([1, 2, 3])
    r_one = train_many(one, data, cfg)
    torch.set_num_threads(2)
    r_two = train_many(two, data, cfg, threads=2)
    assert torch.get_num_threads() == 2
    assert [r.epochs_run for r in r_one] == [r.epochs_run for r in r_two]
    for a, b in zip(one, two, strict=True):
        assert_same_weights(a, b, atol=1e-6)
