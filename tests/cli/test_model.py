"""``coincast train | forecast | backtest`` end to end: CSV in, registry, tables, PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from coincast.api import load_history
from coincast.cli import app
from coincast.data.market.cache import MarketCache
from coincast.errors import NoDataError
from coincast.settings import Settings
from tests.helpers.histories import random_walk

ADVICE = "Forecasts are decision support, not financial advice."
SMALL = ["--epochs", "2", "--window", "10", "--units", "8"]


pytestmark = pytest.mark.usefixtures("one_thread")


def walk(n: int = 260) -> pd.DataFrame:
    return random_walk(
        n, seed=3, step=0.02, first=50.0, volume_seed=None, cap_ratio=1e4, start="2021-01-01"
    )


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "walk.csv"
    walk().to_csv(path, index_label="date")
    return path


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("COINCAST_DATA_DIR", str(settings.data_dir))
    return settings


def test_train_save_then_forecast_from_the_registry(
    env: Settings, csv_file: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app, ["train", "walk", "--csv", str(csv_file), "--preset", "paper", *SMALL,
              "--save", "walkmodel"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "naive" in res.output and "model" in res.output
    assert "Saved local/walkmodel version 1" in res.output
    png = tmp_path / "f.png"
    res = runner.invoke(
        app, ["forecast", "walk", "--model", "walkmodel", "--days", "5", "--csv", str(csv_file),
              "--plot", str(png)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert ADVICE in res.output
    last = walk().index[-1]
    assert (last + pd.Timedelta(days=5)).date().isoformat() in res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_forecast_without_model_trains_and_prints_advice(env: Settings, csv_file: Path) -> None:
    res = CliRunner().invoke(
        app, ["forecast", "walk", "--csv", str(csv_file), "--days", "3", "--epochs", "2"]
    )
    assert res.exit_code == 0, res.output
    assert ADVICE in res.output and "naive" in res.output


def test_backtest_prints_verdict_and_plots(env: Settings, csv_file: Path, tmp_path: Path) -> None:
    png = tmp_path / "err.png"
    res = CliRunner().invoke(
        app, ["backtest", "walk", "--csv", str(csv_file), "--preset", "return", *SMALL,
              "--horizon", "3", "--plot", str(png)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Diebold" in res.output and ADVICE in res.output
    assert "Interval score (Winkler" in res.output and "risk forecast" in res.output
    assert png.stat().st_size > 1000


def test_load_history_reads_the_store_and_cleans(settings: Settings) -> None:
    with pytest.raises(NoDataError):
        load_history("walk", settings)
    frame = walk(120)
    MarketCache(settings).upsert_history("walk", frame, source="csv")
    got = load_history("walk", settings)
    assert len(got) == len(frame)
    np.testing.assert_allclose(got["price"].to_numpy(), frame["price"].to_numpy())


def test_train_further_saves_the_next_version_with_its_parent(
    env: Settings, csv_file: Path
) -> None:
    from coincast.store.registry import ModelRegistry

    runner = CliRunner()
    base = ["train", "walk", "--csv", str(csv_file), "--preset", "paper"]
    res = runner.invoke(app, [*base, *SMALL, "--save", "walkmodel"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["train", "walk", "--csv", str(csv_file), "--from", "walkmodel",
                              "--epochs", "2", "--lr", "0.01"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Saved local/walkmodel version 2 (trained further from version 1)" in res.output
    assert "naive" in res.output
    registry = ModelRegistry(env)
    assert registry.info("local", "walkmodel", 2).parent_version == 1
    v1, v2 = registry.get("local", "walkmodel", 1), registry.get("local", "walkmodel", 2)
    assert v1.weights != v2.weights  # it did train
    assert len(v1.weights) == len(v2.weights)  # the same network
    # The network cannot change when training further; nothing new is saved.
    res = runner.invoke(app, ["train", "walk", "--csv", str(csv_file), "--from", "walkmodel",
                              "--window", "7"])  # fmt: skip
    assert res.exit_code == 1
    assert "window cannot change" in " ".join(res.output.split())  # rich wraps lines
    assert [v.version for v in registry.list_versions("local", "walkmodel")] == [1, 2]
