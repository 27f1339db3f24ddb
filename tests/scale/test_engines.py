"""Many coins at once without Ray: batched equals sequential; ``coincast train --top``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from coincast.cli import app
from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.scale.engines import fit_many
from coincast.scale.results import CoinResult
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from coincast.store.tfjs.read import from_tfjs

TINY = {"epochs": 3, "units": (6,), "window": 7}
# Different lengths on purpose: the batched run pads and masks the shorter coins.
COINS = {"bitcoin": 260, "ethereum": 300, "litecoin": 230}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def histories(daily_dir: Path) -> dict[str, pd.DataFrame]:
    return {c: read_history_csv(daily_dir / f"{c}.csv").iloc[-n:] for c, n in COINS.items()}


def weights_of(res: CoinResult) -> dict[str, torch.Tensor]:
    assert res.model_json is not None and res.weights is not None
    model, _window, _meta = from_tfjs(res.model_json, res.weights)
    return model.state_dict()


def test_batched_equals_sequential_per_coin(histories: dict[str, pd.DataFrame]) -> None:
    progress: list[float] = []
    seen: list[str] = []
    batched = fit_many(
        histories, "paper", TINY, engine="batched",
        on_result=lambda r: seen.append(r.coin), on_progress=lambda d, _n: progress.append(d),
    )  # fmt: skip
    sequential = fit_many(histories, "paper", TINY, engine="sequential")
    assert [r.coin for r in batched] == list(COINS) == [r.coin for r in sequential]
    assert sorted(seen) == sorted(COINS)
    assert progress == sorted(progress) and progress[-1] == pytest.approx(len(COINS))
    for b, s in zip(batched, sequential, strict=True):
        assert b.ok and s.ok and b.epochs_run == s.epochs_run == 3
        wb, ws = weights_of(b), weights_of(s)
        for name in ws:
            torch.testing.assert_close(wb[name], ws[name], rtol=1e-5, atol=1e-6)
        assert b.val_mape == pytest.approx(s.val_mape, rel=1e-4)
        assert b.test_mape == pytest.approx(s.test_mape, rel=1e-4)
        assert b.val_naive_mape == s.val_naive_mape and b.test_naive_mape == s.test_naive_mape
    # The coins really learned different things (no model shared by accident).
    first, second = weights_of(batched[0]), weights_of(batched[1])
    assert not torch.allclose(first["head.weight"], second["head.weight"])


def test_a_short_history_fails_alone(histories: dict[str, pd.DataFrame]) -> None:
    mixed = {"short": histories["bitcoin"].iloc[-15:], **histories}
    for engine in ("batched", "sequential"):
        results = fit_many(mixed, "paper", TINY, engine=engine)  # type: ignore[arg-type]
        assert [r.coin for r in results] == list(mixed)
        assert not results[0].ok and results[0].model_json is None
        assert "consecutive clean days" in (results[0].message or "")
        assert all(r.ok for r in results[1:])


def test_naive_scores_do_not_depend_on_the_model(histories: dict[str, pd.DataFrame]) -> None:
    a = fit_many({"bitcoin": histories["bitcoin"]}, "paper", TINY, engine="sequential")[0]
    b = fit_many(
        {"bitcoin": histories["bitcoin"]}, "paper", {**TINY, "lr": 0.01}, engine="sequential"
    )[0]
    assert a.val_naive_mape == b.val_naive_mape and a.test_naive_mape == b.test_naive_mape
    assert a.val_mape != b.val_mape  # the model's own error does depend on it


def test_cli_train_top_saves_each_model_and_skips_stablecoins(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, daily_dir: Path
) -> None:
    cache = MarketCache(settings)
    for coin in ("bitcoin", "tether", "tron"):
        cache.upsert_history(coin, read_history_csv(daily_dir / f"{coin}.csv").iloc[-250:], "csv")
    monkeypatch.setenv("COINCAST_DATA_DIR", str(settings.data_dir))
    res = CliRunner().invoke(
        app, ["train", "--top", "2", "--preset", "paper", "--epochs", "2", "--units", "4",
              "--window", "7", "--engine", "batched"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "tether" in res.output and "peg" in res.output
    assert "2 model(s) saved" in res.output and "not financial advice" in res.output
    registry = ModelRegistry(settings)
    names = sorted(m.name for m in registry.list_models("local"))
    assert names == ["bitcoin-paper", "tron-paper"]  # no rank stored: by id; tether skipped
    stored = registry.get("local", "bitcoin-paper")
    _model, window, meta = from_tfjs(stored.model_json, stored.weights)
    assert window == 7 and meta["coin"] == "bitcoin" and meta["metrics"]["table"]


def test_cli_train_needs_coin_or_top(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COINCAST_DATA_DIR", str(settings.data_dir))
    res = CliRunner().invoke(app, ["train"])
    assert res.exit_code != 0 and "--top" in res.output
    res = CliRunner().invoke(app, ["train", "--top", "3"])
    # The library's NoDataError becomes its message and exit code 1 (user_errors).
    assert res.exit_code == 1 and "coincast data refresh" in " ".join(res.output.split())


def test_scale_modules_import_neither_ray_nor_the_cli_stack() -> None:
    """Ray/Optuna load only when used, and the scale code is core: no CLI or server."""
    code = (
        "import sys, coincast.scale.engines, coincast.scale.ray_tasks, coincast.scale.tune\n"
        "bad = {'ray', 'optuna', 'typer', 'rich', 'fastapi', 'starlette', 'uvicorn'}\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported: {out.stdout.strip()}"


def test_dropout_presets_fall_back_to_sequential(histories: dict[str, pd.DataFrame]) -> None:
    one = {"bitcoin": histories["bitcoin"]}
    small = {"epochs": 2, "units": (4, 4), "window": 7, "dropout": 0.2}
    batched = fit_many(one, "deep", small, engine="batched")[0]
    sequential = fit_many(one, "deep", small, engine="sequential")[0]
    assert batched.ok and sequential.ok
    for name, w in weights_of(sequential).items():
        torch.testing.assert_close(weights_of(batched)[name], w)
