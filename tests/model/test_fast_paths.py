"""The fast paths equal the reference ones: compiled GEMM and Adam, and the thread chooser.

The compiled loop's small GEMM has row and column tails (batch not a multiple of 4,
4U not a multiple of 16 or 8) and the fused Adam replaces nine tensor ops; both must
give what plain torch gives from the same initialisation and batches. The thread
chooser must never keep a setting its own measurement found slower.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch

from coincast.model.fast.batched import train_many
from coincast.model.fast.batched_state import StackedAdam
from coincast.model.fast.native import native_ops, native_status
from coincast.model.fast.threads import (
    MORE_THREADS_MARGIN,
    cached_choices,
    choose_threads,
    forget_choices,
)
from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.model.schedule import TrainConfig
from coincast.model.train import train_model, train_reference

pytestmark = pytest.mark.usefixtures("one_thread")

needs_native = pytest.mark.skipif(
    native_ops() is None, reason=f"the compiled LSTM loop is unavailable: {native_status()}"
)


def windows(n: int, window: int, features: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n + window, dtype=torch.float64)
    cols = [0.5 + 0.4 * torch.sin(2 * math.pi * t / (19.0 + 5 * k)) for k in range(features)]
    s = (torch.stack(cols, dim=1) + 0.02 * torch.randn(n + window, features, generator=g)).float()
    x = s.unfold(0, window, 1)[:-1].transpose(1, 2).contiguous()[:n]
    return x, s[window : window + n, 0].contiguous()


def max_diff(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(
        float((p - q).abs().max())
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


@needs_native
@pytest.mark.parametrize(
    ("units", "features", "batch", "n"),
    [
        (50, 2, 32, 320),  # the paper model: 4U = 200 (16-column blocks + an 8 tail)
        (13, 3, 7, 100),  # 4U = 52, U = 13: scalar column tails; batch 7: a row tail
    ],
)
def test_train_model_weights_equal_the_plain_torch_loop(
    units: int, features: int, batch: int, n: int
) -> None:
    """Same init, same batches (one generator per run), 2 epochs: fast == autograd."""
    cfg = ModelConfig(n_features=features, units=(units,))
    x, y = windows(n, 30, features, seed=units)
    models = [LSTMRegressor(cfg, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert max_diff(*models) == 0.0
    train_cfg = TrainConfig(epochs=2, batch_size=batch, lr=5e-3)
    fast = train_model(models[0], x, y, config=train_cfg)
    ref = train_reference(models[1], x, y, config=train_cfg)
    assert max_diff(models[0], models[1]) < 2e-5
    # The weights moved (a no-op training would also "match").
    untrained = LSTMRegressor(cfg, generator=torch.Generator().manual_seed(3))
    assert max_diff(models[0], untrained) > 1e-3
    for a, b in zip(fast.history, ref.history, strict=True):
        assert a.loss == pytest.approx(b.loss, rel=1e-4)


@needs_native
def test_fused_adam_equals_the_tensor_op_update() -> None:
    g = torch.Generator().manual_seed(0)
    flat = torch.randn(3, 1001, generator=g)
    fused, ops = flat.clone(), flat.clone()
    a_fused, a_ops = StackedAdam(fused, 1e-2), StackedAdam(ops, 1e-2, native=False)
    assert a_fused.ops is not None and a_ops.ops is None
    a_fused.lr[1] = a_ops.lr[1] = 3e-3  # per-model rates, as LR decay sets them
    for step in range(25):
        grad = torch.randn(3, 1001, generator=g) * (10.0 if step % 5 == 0 else 0.1)
        rows = slice(0, 3) if step % 3 else slice(1, 3)  # per-model step counts differ
        a_fused.step(fused, grad[rows], rows)
        a_ops.step(ops, grad[rows], rows)
    assert a_fused.steps == a_ops.steps == [16, 25, 25]
    torch.testing.assert_close(fused, ops, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(a_fused.exp_avg_sq, a_ops.exp_avg_sq, atol=1e-7, rtol=1e-6)
    assert float((fused - flat).abs().min()) > 0  # every parameter moved


@pytest.fixture
def no_cached_choices() -> Iterator[None]:
    forget_choices()
    yield
    forget_choices()


class FakeTrial:
    """trial(n, k) with a scripted duration per thread count, read by a fake clock."""

    def __init__(self, seconds: dict[int, list[float]], warmup: float = 0.0) -> None:
        self.seconds = {n: list(ts) for n, ts in seconds.items()}
        self.warmup = warmup
        self.now = 0.0
        self.calls: list[tuple[int, int]] = []

    def __call__(self, n: int, k: int) -> None:
        self.calls.append((n, k))
        if k > 1:  # timed rounds (warm-ups run one unit: they only size the rounds)
            self.now += self.seconds[n].pop(0)
        else:
            self.now += self.warmup

    def clock(self) -> float:
        return self.now


@pytest.mark.usefixtures("no_cached_choices")
@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        ({1: [1.0, 1.1, 0.9], 2: [1.05, 1.2, 0.95]}, 1),  # 2 threads a little slower
        ({1: [1.0, 1.0, 1.0], 2: [0.7, 1.2, 0.8]}, 2),  # 2 threads faster in the median
        ({1: [1.0, 1.0, 1.0], 2: [1.0, 1.0, 1.0]}, 1),  # a tie: the fewest threads
        ({1: [1.0, 3.0, 1.0], 2: [1.1, 0.5, 1.2]}, 1),  # one burst of load decides nothing
        ({1: [1.0, 1.0, 1.0], 2: [0.95, 0.93, 0.94]}, 1),  # within the margin: fewer threads
    ],
)
def test_the_chooser_keeps_the_setting_it_measured_fastest(
    seconds: dict[int, list[float]], expected: int
) -> None:
    trial = FakeTrial(seconds)
    choice = choose_threads(("case", expected, str(seconds)), trial, (2, 1), clock=trial.clock)
    assert choice.threads == expected
    fewer = [n for n in choice.seconds if n < choice.threads]
    more = [n for n in choice.seconds if n > choice.threads]
    assert all(choice.seconds[choice.threads] * MORE_THREADS_MARGIN < choice.seconds[n]
               for n in fewer)  # fmt: skip
    assert all(choice.seconds[choice.threads] <= choice.seconds[n] * MORE_THREADS_MARGIN
               for n in more)  # fmt: skip
    assert trial.calls[:2] == [(1, 1), (2, 1)]  # warm-ups first, one unit each


@pytest.mark.usefixtures("no_cached_choices")
def test_samples_of_small_work_are_made_long_enough_to_see_the_load() -> None:
    trial = FakeTrial({1: [1.0] * 3, 2: [0.5] * 3}, warmup=0.004)  # one unit: 4 ms
    choice = choose_threads("sized", trial, (1, 2), clock=trial.clock)
    assert choice.threads == 2
    timed = {k for _n, k in trial.calls[2:]}
    assert timed == {13}  # ceil(MIN_TRIAL_S / 4 ms): each sample spans ~50 ms


@pytest.mark.usefixtures("no_cached_choices")
def test_a_decisive_first_round_ends_the_calibration_and_the_choice_is_cached() -> None:
    trial = FakeTrial({1: [1.0], 2: [5.0]})  # only one round scripted: more would fail
    choice = choose_threads("decisive", trial, (1, 2), clock=trial.clock)
    assert (choice.threads, choice.seconds) == (1, {1: 1.0, 2: 5.0})
    again = choose_threads("decisive", trial, (1, 2), clock=trial.clock)
    assert again.cached and again.threads == 1
    assert len(trial.calls) == 4  # 2 warm-ups + 1 round; the cached call ran nothing
    assert choose_threads("single", trial, (1,)).threads == 1 and len(trial.calls) == 4


@pytest.mark.usefixtures("no_cached_choices")
def test_the_default_choice_trains_the_same_model_and_restores_threads() -> None:
    """threads=None measures 1 vs torch's count on scratch copies: the models' weights
    are those of a fixed-thread run, and the choice follows the rule (more threads only
    by the margin)."""
    cfg = ModelConfig(n_features=2, units=(8,))
    data = [windows(90, 10, 2, seed=k) for k in range(3)]
    sets = [(x, y, None, None) for x, y in data]
    fixed = [LSTMRegressor(cfg, generator=torch.Generator().manual_seed(k)) for k in range(3)]
    chosen = [LSTMRegressor(cfg, generator=torch.Generator().manual_seed(k)) for k in range(3)]
    train_cfg = TrainConfig(epochs=2, lr=1e-2)
    train_many(fixed, sets, train_cfg, threads=1)
    torch.set_num_threads(2)
    train_many(chosen, sets, train_cfg)
    assert torch.get_num_threads() == 2
    for a, b in zip(fixed, chosen, strict=True):
        assert max_diff(a, b) < 1e-6
    (choice,) = cached_choices().values()
    assert set(choice.seconds) == {1, 2}
    one, two = choice.seconds[1], choice.seconds[2]
    assert choice.threads == (2 if two * MORE_THREADS_MARGIN < one else 1)
