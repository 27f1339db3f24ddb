"""Cleaning: properties on every shared file, the known artefacts, and small cases."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coincast.data.clean import CleaningParams, CleaningReport, clean, find_volume_spikes
from coincast.data.csv_import import read_history_csv
from coincast.errors import DataError
from coincast.settings import Settings
from tests.conftest import DAILY_DIR

SHARED_FILES = sorted(p.name for p in DAILY_DIR.glob("*.csv"))
PARAMS = CleaningParams()


def assert_report_explains(raw: pd.DataFrame, out: pd.DataFrame, report: CleaningReport) -> None:
    """Nothing differs between input and output unless a listed change covers it."""
    raw_days = {ts.date() for ts in raw.index}
    out_days = {ts.date() for ts in out.index}
    for day in raw_days - out_days:
        assert report.covers(day), f"{day} was dropped silently"
    for day in out_days - raw_days:
        for column in ("price", "volume"):
            assert report.covers(day, column), f"{day} {column} was added silently"
    common = raw.index.intersection(out.index)
    for column in ("price", "volume", "market_cap"):
        before = raw.loc[common, column].to_numpy()
        after = out.loc[common, column].to_numpy()
        differs = ~((before == after) | (np.isnan(before) & np.isnan(after)))
        for ts in common[differs]:
            assert report.covers(ts.date(), column), f"{ts.date()} {column} changed silently"


@pytest.mark.parametrize("name", SHARED_FILES or ["bitcoin.csv"])
def test_properties_on_every_shared_file(daily_dir: Path, name: str) -> None:
    raw = read_history_csv(daily_dir / name)
    untouched = raw.copy()
    out, report = clean(raw, PARAMS)
    pd.testing.assert_frame_equal(raw, untouched)  # the input is not modified
    # a full daily calendar, no holes, no NaN where the model reads
    steps = np.diff(out.index.to_numpy()).astype("timedelta64[D]").astype(int)
    assert (steps == 1).all()
    assert not out["price"].isna().any() and not out["volume"].isna().any()
    assert (out["price"] > 0).all() and (out["volume"] >= 0).all()
    # the first day has volume (the zero-volume prefix is gone)
    assert out["volume"].iloc[0] > 0
    # no impossible spike is left, and cleaning again changes nothing
    assert not find_volume_spikes(out["volume"], PARAMS)[0].any()
    again, second = clean(out, PARAMS)
    assert second.changes == []
    pd.testing.assert_frame_equal(again, out)
    # existing prices are never modified; every change is listed
    common = raw.index.intersection(out.index)
    assert raw.loc[common, "price"].tolist() == out.loc[common, "price"].tolist()
    assert_report_explains(raw, out, report)
    assert report.rows_in == len(raw) and report.rows_out == len(out)
    assert (report.first, report.last) == (out.index[0].date(), out.index[-1].date())


def test_usd_coin_volume_glitches_are_clipped(daily_dir: Path) -> None:
    raw = read_history_csv(daily_dir / "usd-coin.csv")
    out, report = clean(raw)
    spikes = [c for c in report.changes if c.kind == "volume_spike"]
    assert [c.start for c in spikes] == [date(2022, 1, 26), date(2022, 1, 29)]
    for change in spikes:
        ts = pd.Timestamp(change.start)
        assert change.before == raw["volume"].loc[ts] > 7e13
        assert change.after == out["volume"].loc[ts]
        # clipped to the order of its neighbours (a few billion USD), not merely reduced
        window = out["volume"].loc[ts - pd.Timedelta(days=30) : ts - pd.Timedelta(days=1)]
        assert window.min() <= change.after <= window.max()
    assert out["price"].equals(raw["price"])


@pytest.mark.parametrize(
    ("coin", "day", "move"),
    [
        ("bitcoin", "2020-03-13", -0.35),  # CoinGecko convention: the crash is on 03-13
        ("litecoin", "2020-03-12", -0.36),
        ("chainlink", "2020-03-12", -0.46),
        ("matic-network", "2020-03-12", -0.51),
        ("ripple", "2017-04-02", 1.79),
        ("tron", "2017-12-13", 1.16),
    ],
)
def test_genuine_moves_are_untouched(daily_dir: Path, coin: str, day: str, move: float) -> None:
    raw = read_history_csv(daily_dir / f"{coin}.csv")
    out, report = clean(raw)
    ts = pd.Timestamp(day)
    returns = out["price"].pct_change()
    assert returns.loc[ts] == pytest.approx(move, abs=0.005)
    assert out.loc[ts - pd.Timedelta(days=1) : ts].equals(raw.loc[ts - pd.Timedelta(days=1) : ts])
    assert not report.covers(ts.date())


def test_dogecoin_first_days_rally_is_dropped_only_with_its_zero_volume(daily_dir: Path) -> None:
    """+221 % on 2013-12-19 lies inside the zero-volume prefix: dropped as rows, never edited."""
    raw = read_history_csv(daily_dir / "dogecoin.csv")
    out, report = clean(raw)
    (prefix,) = [c for c in report.changes if c.kind == "zero_volume_prefix"]
    assert (prefix.start, prefix.end) == (date(2013, 12, 16), date(2013, 12, 26))
    assert out.index[0] == pd.Timestamp("2013-12-27")
    kept, _ = clean(raw, CleaningParams(drop_zero_volume_prefix=False))
    assert kept["price"].pct_change().loc["2013-12-19"] == pytest.approx(2.21, abs=0.01)
    assert kept.loc["2013-12-16":"2013-12-26"].equals(raw.loc["2013-12-16":"2013-12-26"])


def test_bitcoin_zero_volume_years_are_dropped(daily_dir: Path) -> None:
    out, report = clean(read_history_csv(daily_dir / "bitcoin.csv"))
    assert out.index[0] == pd.Timestamp("2013-12-27")
    assert report.counts() == {"zero_volume_prefix": 1}
    assert "1258 leading day(s) with zero volume" in report.changes[0].reason


def test_tether_short_gaps_are_interpolated(daily_dir: Path) -> None:
    raw = read_history_csv(daily_dir / "tether.csv")
    out, report = clean(raw)
    filled = sorted({c.start for c in report.changes if c.kind == "filled_gap"})
    assert [str(d) for d in filled] == [
        "2015-02-27", "2015-02-28", "2015-03-01", "2015-03-04", "2015-03-05",
    ]  # fmt: skip
    a, b = raw["price"].loc["2015-02-26"], raw["price"].loc["2015-03-02"]
    assert out["price"].loc["2015-02-28"] == pytest.approx(a + (b - a) * 2 / 4)


def _frame(prices: dict[str, float], volume: float = 100.0) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(list(prices)), name="date")
    return pd.DataFrame(
        {"price": list(prices.values()), "volume": volume, "market_cap": np.nan}, index=index
    )


def test_long_gap_keeps_the_latest_segment_and_says_so() -> None:
    days = {f"2024-01-{d:02d}": float(d) for d in (1, 2, 3, 10, 11, 13)}
    out, report = clean(_frame(days), Settings(_env_file=None, max_gap_days=3))  # type: ignore[call-arg]
    assert [str(ts.date()) for ts in out.index] == [
        "2024-01-10",
        "2024-01-11",
        "2024-01-12",
        "2024-01-13",
    ]
    assert out["price"].loc["2024-01-12"] == 12.0
    split = report.changes[0]
    assert (split.kind, split.start, split.end) == ("split", date(2024, 1, 1), date(2024, 1, 9))
    assert "6 missing day(s) 2024-01-04 … 2024-01-09 exceed max_gap_days=3" in split.reason
    # the same gap is short enough with a larger threshold
    wide, _ = clean(_frame(days), CleaningParams(max_gap_days=6))
    assert len(wide) == 13


def test_invalid_values_and_edges_are_reported() -> None:
    frame = _frame({"2024-01-01": 0.0, "2024-01-02": 2.0, "2024-01-03": -1.0, "2024-01-04": 4.0})
    out, report = clean(frame)
    assert [str(ts.date()) for ts in out.index] == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert out["price"].tolist() == [2.0, 3.0, 4.0]
    assert [c.kind for c in report.changes] == [
        "invalid_value",
        "invalid_value",
        "trim",
        "filled_gap",
    ]
    table = str(report)
    assert table.splitlines()[1].split() == [
        "kind",
        "date(s)",
        "column",
        "before",
        "after",
        "reason",
    ]
    assert "invalid_value  2024-01-03  price   -1" in table


def test_synthetic_spike_needs_both_rules() -> None:
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=60, freq="D", name="date")
    volume = 1e6 * np.exp(rng.normal(0, 0.1, size=60))
    volume[40] *= 50  # large but possible: under spike_min_ratio
    volume[50] *= 5000  # impossible
    frame = pd.DataFrame(
        {"price": 1.0 + np.arange(60.0), "volume": volume, "market_cap": np.nan}, index=days
    )
    out, report = clean(frame)
    assert [(c.kind, str(c.start)) for c in report.changes] == [("volume_spike", "2024-02-20")]
    assert out["volume"].iloc[40] == volume[40]
    assert out["volume"].iloc[50] < 2e6


def test_empty_history_is_refused() -> None:
    with pytest.raises(DataError, match="empty history"):
        clean(_frame({}))
