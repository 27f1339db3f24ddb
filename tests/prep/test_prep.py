"""Scaling and windowing: fitted on train only, aligned to the day, inputs untouched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coincast.errors import InsufficientHistoryError, ModelFormatError, ParameterError
from coincast.prep.dataset import contiguous_tail, prepare
from coincast.prep.scaling import MinMaxScaler
from coincast.prep.windows import chronological_split, feature_matrix, sliding_windows
from tests.helpers.histories import history


def test_scaler_round_trip_and_json() -> None:
    rng = np.random.default_rng(0)
    values = rng.uniform(5, 500, size=(50, 3))
    s = MinMaxScaler.fit(values, names=("price", "volume", "market_cap"))
    scaled = s.transform(values)
    assert scaled.min(axis=0) == pytest.approx([0, 0, 0])
    assert scaled.max(axis=0) == pytest.approx([1, 1, 1])
    np.testing.assert_allclose(s.inverse_transform(scaled), values, rtol=1e-12)
    np.testing.assert_allclose(s.inverse_column(scaled[:, 1], "volume"), values[:, 1])
    again = MinMaxScaler.from_dict(s.to_dict())
    assert again == s
    with pytest.raises(ModelFormatError):
        MinMaxScaler.from_dict({"names": ["price"], "min": ["x"], "max": [1]})


def test_constant_feature_scales_to_zero_not_nan() -> None:
    s = MinMaxScaler.fit([[1.0, 7.0], [2.0, 7.0]], names=("price", "volume"))
    assert np.all(np.isfinite(s.transform([[1.5, 7.0]])))


def test_windows_and_targets_on_a_hand_computed_example() -> None:
    # 12 days; window 2 → first target day 3 (day 0 has no log return).
    price = np.array([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21], dtype=float)
    prep = prepare(
        history(price), window=2, features=("price", "log_return"), target="return",
        val_frac=0.25, test_frac=0.25,
    )  # fmt: skip
    b = prep.bounds
    # 9 target days (3..11): test = last round(2.25)=2, val = 2 before, train = days 3..7.
    assert (b.first, b.val_start, b.test_start, b.end) == (3, 8, 10, 12)
    x, y, days = prep.samples("train")
    assert days.tolist() == [3, 4, 5, 6, 7]
    # Sample for day 3 reads days 1 and 2: prices 11, 12 (scaled on train days 1..7: 11..17).
    np.testing.assert_allclose(x[0, :, 0].numpy(), [0.0, 1 / 6], atol=1e-6)
    # Its log-return feature is log(11/10), log(12/11), scaled on train days' returns.
    lr = np.log(price[1:8] / price[:7])
    expect = (np.log([11 / 10, 12 / 11]) - lr.min()) / (lr.max() - lr.min())
    np.testing.assert_allclose(x[0, :, 1].numpy(), expect, atol=1e-6)
    # The target is day 3's log return in units of the training returns' std.
    np.testing.assert_allclose(y[0].item(), np.log(13 / 12) / np.std(lr[2:]), rtol=1e-5)
    _, _, test_days = prep.samples("test")
    assert test_days.tolist() == [10, 11]


def test_level_target_is_the_scaled_next_price() -> None:
    price = np.linspace(100, 200, 40)
    prep = prepare(history(price), window=3, features=("price", "volume"), target="level")
    x, y, days = prep.samples("train")
    s = prep.scaler
    np.testing.assert_allclose(s.inverse_column(y.numpy(), "price"), price[days], rtol=1e-5)
    np.testing.assert_allclose(
        s.inverse_column(x[:, -1, 0].numpy(), "price"), price[days - 1], rtol=1e-5
    )


def test_scaler_is_fitted_on_training_days_only() -> None:
    """Changing anything after the training part must not change the scaler or train data."""
    price = np.linspace(100, 200, 200)
    base = prepare(history(price), window=5, features=("price", "volume"), target="level")
    later = price.copy()
    later[base.bounds.val_start :] *= 50.0  # a huge rally in validation + test
    moved = prepare(history(later), window=5, features=("price", "volume"), target="level")
    assert moved.scaler == base.scaler
    assert base.scaler.maxs[0] == pytest.approx(price[base.bounds.val_start - 1])
    xa, ya, _ = base.samples("train")
    xb, yb, _ = moved.samples("train")
    assert np.array_equal(xa.numpy(), xb.numpy()) and np.array_equal(ya.numpy(), yb.numpy())
    # and the rally is visible (out of range) where it belongs
    assert moved.samples("test")[1].min().item() > 1.0


def test_windows_never_read_their_own_target_or_later() -> None:
    feats = np.arange(20, dtype=float)[:, None]  # feature value = day index
    days = np.array([5, 9, 19])
    x = sliding_windows(feats, days, window=4)
    assert x.shape == (3, 4, 1)
    assert x[:, :, 0].max(axis=1).tolist() == (days - 1).tolist()


def test_split_by_dates() -> None:
    dates = pd.date_range("2020-01-01", periods=100, freq="D")
    b = chronological_split(dates, 5, val_start="2020-02-01", test_start="2020-03-01")
    assert dates[b.val_start] == pd.Timestamp("2020-02-01")
    assert dates[b.test_start] == pd.Timestamp("2020-03-01")
    assert b.end == 100


def test_inputs_not_mutated_and_gap_keeps_recent_run() -> None:
    h = history(np.linspace(1, 2, 60))
    h = h.drop(h.index[10])  # a gap: only the 49 days after it are consecutive
    before = h.copy(deep=True)
    prep = prepare(h, window=5, features=("price", "volume", "market_cap"), target="level")
    pd.testing.assert_frame_equal(h, before)
    assert len(prep.dates) == 49 == len(contiguous_tail(h))


def test_errors_are_helpful() -> None:
    with pytest.raises(InsufficientHistoryError, match="window needs at least"):
        prepare(history(np.ones(20) + 1), window=30, features=("price",), target="level")
    with pytest.raises(ParameterError, match="'price' must be a feature"):
        prepare(history(np.ones(200) + 1), window=5, features=("volume",), target="level")


def test_feature_matrix_works_on_batches() -> None:
    p = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]])
    out = feature_matrix(p, p * 2, p * 3, ("price", "log_return", "market_cap"))
    assert out.shape == (2, 3, 3)
    np.testing.assert_allclose(out[0, 1:, 1], [np.log(2), np.log(2)])
    assert np.isnan(out[0, 0, 1])
