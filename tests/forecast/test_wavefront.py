"""The calendar-batched forecast (``forecast.wavefront``) against the per-window reference.

Every preset's architecture (window 30, its units and features), the intervals, a batch of
origins, another history, and weights changed in place after a first forecast. Histories
stay inside the range the scaler was fitted on: a level model driven far below it (to the
1e-3 price floor) turns its output into a price by ``y × span + min`` with catastrophic
cancellation, where float32 rounding of *either* path moves the price by more than 1e-5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from coincast.api import Forecaster
from coincast.forecast.forecast import predict_paths
from coincast.forecast.wavefront import predict_paths_fast
from tests.helpers.histories import random_walk

pytestmark = pytest.mark.usefixtures("one_thread")

RTOL = 1e-5  # relative, on prices (the aim the fast path is held to)


@pytest.fixture(scope="module", params=["paper", "shrunk", "deep", "return"])
def fitted(request: pytest.FixtureRequest) -> Forecaster:
    """A briefly trained forecaster with the preset's real architecture; its weights are
    then scaled up so the LSTM is far from linear (a near-linear net would hide errors)."""
    torch.set_num_threads(1)
    fc = Forecaster(request.param, epochs=2).fit(random_walk(260, seed=3))
    assert fc.model is not None
    with torch.no_grad():
        gen = torch.Generator().manual_seed(5)
        for p in fc.model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return fc


def both(
    fc: Forecaster, days: int, history: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    return fc.forecast(days, history), fc.forecast(days, history, reference=True)


@pytest.mark.parametrize("days", [1, 7, 30, 90])
def test_forecaster_fast_path_equals_the_reference(fitted: Forecaster, days: int) -> None:
    fast, ref = both(fitted, days)
    np.testing.assert_allclose(fast["forecast"], ref["forecast"], rtol=RTOL, atol=0)
    # the intervals are the same widths around the same path
    np.testing.assert_allclose(fast["lower"] / fast["forecast"], ref["lower"] / ref["forecast"],
                               rtol=1e-12)  # fmt: skip
    np.testing.assert_allclose(fast["upper"], ref["upper"], rtol=RTOL)
    pd.testing.assert_series_equal(fast["date"], ref["date"])
    pd.testing.assert_series_equal(fast["naive"], ref["naive"])
    # the forecast moves (a flat path would make the comparison vacuous)
    if days > 1 and fitted.spec is not None and fitted.spec.shrink > 0:
        assert np.ptp(ref["forecast"].to_numpy()) > 0


def test_fast_path_from_a_newer_history(fitted: Forecaster) -> None:
    h = random_walk(260, seed=3).iloc[:-25]  # inside the scaler's range (see module doc)
    fast, ref = both(fitted, 14, history=h)
    np.testing.assert_allclose(fast["forecast"], ref["forecast"], rtol=RTOL)
    np.testing.assert_allclose(fast["lower"], ref["lower"], rtol=RTOL)
    assert fast["date"].iloc[0] == h.index[-1] + pd.Timedelta(days=1)


def test_many_origins_at_once(fitted: Forecaster) -> None:
    assert fitted.model is not None and fitted.spec is not None
    h = random_walk(260, seed=3)
    w = fitted.spec.window
    ends = np.arange(w + 1, 260, 17)
    cols = {c: np.stack([h[c].to_numpy()[e - w - 1 : e] for e in ends]) for c in h.columns}
    args = (cols["price"], cols["volume"], cols["market_cap"], 20)
    fast = predict_paths_fast(fitted.model, fitted.spec, *args)
    ref = predict_paths(fitted.model, fitted.spec, *args)
    assert fast.shape == ref.shape == (len(ends), 20)
    np.testing.assert_allclose(fast, ref, rtol=RTOL)


def test_weights_changed_in_place_are_picked_up() -> None:
    """The fast path keeps a float32 copy of the weights; training further changes them
    in place, and the next forecast must use the new ones."""
    fc = Forecaster("paper", epochs=1, units=(12,)).fit(random_walk(200, seed=4))
    assert fc.model is not None
    before = fc.forecast(10)
    with torch.no_grad():
        fc.model.head.bias.add_(0.05)
    after, ref = both(fc, 10)
    np.testing.assert_allclose(after["forecast"], ref["forecast"], rtol=RTOL)
    assert not np.allclose(after["forecast"], before["forecast"], rtol=1e-4)
