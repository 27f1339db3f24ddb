"""``coincast forecast`` says when the history ends in the past (the server's sentence)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from coincast.cli import app
from coincast.data import freshness
from coincast.settings import Settings
from tests.helpers.histories import random_walk

pytestmark = pytest.mark.usefixtures("one_thread")


def _csv(tmp_path: Path, last: str) -> Path:
    start = (pd.Timestamp(last) - pd.Timedelta(days=199)).date().isoformat()
    frame = random_walk(200, seed=5, step=0.02, first=50.0, cap_ratio=1e4, start=start)
    path = tmp_path / f"walk-{last}.csv"
    frame.to_csv(path, index_label="date")
    return path


def _forecast(csv: Path) -> str:
    res = CliRunner().invoke(
        app, ["forecast", "walk", "--csv", str(csv), "--days", "3", "--epochs", "1"]
    )
    assert res.exit_code == 0, res.output
    return " ".join(res.output.split())  # rich wraps at the terminal width


@pytest.mark.parametrize(("last", "stale"), [("2024-12-31", True), ("2026-12-01", False)])
def test_forecast_prints_the_stale_notice_only_for_old_data(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    last: str,
    stale: bool,
) -> None:
    monkeypatch.setenv("COINCAST_DATA_DIR", str(settings.data_dir))
    monkeypatch.setattr(freshness, "today_utc", lambda: date(2026, 12, 2))
    out = _forecast(_csv(tmp_path, last))
    notice = "Data ends 2024-12-31, 701 days ago; forecasts start from there."
    assert (notice in out) is stale, out
    assert ("coincast data fetch walk" in out) is stale
