"""Ray for real: one local runtime with 2 workers for this module, tiny models, few epochs.

Checks that per-coin Ray tasks train the same models as a local run, that a task which
raises or whose worker dies is retried without losing (or rerunning) finished coins,
and that a small Ray Tune + Optuna + ASHA search picks by validation and records it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from coincast.cli import app
from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.scale.engines import fit_many
from coincast.scale.results import CoinResult
from coincast.scale.sequential import fit_coin
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from coincast.store.tfjs.read import from_tfjs

ray = pytest.importorskip("ray")

from coincast.scale.ray_tasks import fit_many_ray, ray_runtime, run_tasks  # noqa: E402

# One runtime for the module: keep every test of this file on one xdist worker.
pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.usefixtures("one_thread")]

TINY = {"epochs": 3, "units": (6,), "window": 7}
COINS = {"bitcoin": 260, "ethereum": 300, "litecoin": 230, "dogecoin": 240}


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    if ray.is_initialized():  # pragma: no cover - another module left one running
        ray.shutdown()
    # Functions defined in this test module travel by value, whatever the workers' path.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with ray_runtime(num_cpus=2) as runtime:
        yield runtime
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def histories(daily_dir: Path) -> dict[str, pd.DataFrame]:
    return {c: read_history_csv(daily_dir / f"{c}.csv").iloc[-n:] for c, n in COINS.items()}


def weights_of(res: CoinResult) -> dict[str, torch.Tensor]:
    assert res.model_json is not None and res.weights is not None
    return from_tfjs(res.model_json, res.weights)[0].state_dict()


def assert_same_model(a: CoinResult, b: CoinResult) -> None:
    wa, wb = weights_of(a), weights_of(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        torch.testing.assert_close(wa[name], wb[name], rtol=1e-5, atol=1e-6)
    assert a.val_mape == pytest.approx(b.val_mape, rel=1e-5)
    assert a.test_mape == pytest.approx(b.test_mape, rel=1e-5)


def test_ray_tasks_train_the_same_models_as_a_local_run(
    ray_local: Any, histories: dict[str, pd.DataFrame]
) -> None:
    assert ray_local.cluster_resources().get("CPU") == 2
    finished: list[str] = []
    remote = fit_many_ray(histories, "paper", TINY, on_result=lambda r: finished.append(r.coin))
    local = fit_many(histories, "paper", TINY, engine="sequential")
    assert [r.coin for r in remote] == list(COINS)  # histories' order, whatever finished first
    assert sorted(finished) == sorted(COINS)
    for r, loc in zip(remote, local, strict=True):
        assert r.ok and loc.ok
        assert_same_model(r, loc)
    assert ray.is_initialized()  # the module's runtime was used, not shut down


def flaky_fit(coin: str, history: pd.DataFrame, runs_dir: str, mode: str) -> CoinResult:
    """A task that fails on purpose: ``crash`` kills its worker process on the first try,
    ``raise`` raises on the first try, ``always`` raises every time."""
    runs = Path(runs_dir) / f"{coin}.runs"
    before = runs.read_text().count("\n") if runs.exists() else 0
    with runs.open("a") as fh:
        fh.write(f"{os.getpid()}\n")
    if mode == "crash" and before == 0:
        os._exit(17)
    if mode == "raise" and before == 0:
        raise RuntimeError("flaky first try")
    if mode == "always":
        raise RuntimeError("broken for good")
    return fit_coin(coin, history, "paper", TINY)


def test_failed_tasks_are_retried_without_losing_finished_results(
    ray_local: Any, histories: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    modes = {"bitcoin": "ok", "ethereum": "crash", "litecoin": "raise", "dogecoin": "always"}
    jobs = [(c, (c, histories[c], str(tmp_path), m), {}) for c, m in modes.items()]
    delivered: list[CoinResult] = []
    results = run_tasks(flaky_fit, jobs, max_retries=1, on_result=delivered.append)

    assert sorted(r.coin for r in delivered) == sorted(modes)  # each coin handed over once
    runs = {c: (tmp_path / f"{c}.runs").read_text().split() for c in modes}
    assert len(runs["bitcoin"]) == 1  # the finished coin was not run again
    assert len(runs["ethereum"]) == 2 and runs["ethereum"][0] != runs["ethereum"][1]  # new worker
    assert len(runs["litecoin"]) == 2
    assert len(runs["dogecoin"]) == 2  # 1 try + max_retries
    for coin in ("bitcoin", "ethereum", "litecoin"):
        assert results[coin].ok
        assert_same_model(results[coin], fit_coin(coin, histories[coin], "paper", TINY))
    failed = results["dogecoin"]
    assert not failed.ok and failed.model_json is None
    assert "failed 2 times" in (failed.message or "") and "broken for good" in (
        failed.message or ""
    )


def test_a_coincast_error_is_a_result_not_a_retry(
    ray_local: Any, histories: dict[str, pd.DataFrame]
) -> None:
    short = {"short": histories["bitcoin"].iloc[-15:]}
    (res,) = fit_many_ray(short, "paper", TINY, max_retries=3)
    assert not res.ok and "consecutive clean days" in (res.message or "")


def test_cli_train_top_on_ray_saves_every_model(
    ray_local: Any, daily_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = MarketCache(settings)
    for coin in ("bitcoin", "litecoin", "tron"):
        cache.upsert_history(coin, read_history_csv(daily_dir / f"{coin}.csv").iloc[-250:], "csv")
    monkeypatch.setenv("COINCAST_DATA_DIR", str(settings.data_dir))
    res = CliRunner().invoke(
        app, ["train", "--top", "3", "--preset", "paper", "--epochs", "2", "--units", "4",
              "--window", "7", "--engine", "ray"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "3 model(s) saved" in res.output and "engine ray" in res.output
    versions = {m.name for m in ModelRegistry(settings).list_models("local")}
    assert versions == {"bitcoin-paper", "litecoin-paper", "tron-paper"}


@pytest.mark.slow
def test_cli_tune_picks_by_validation_and_records_the_trials(
    ray_local: Any, histories: dict[str, pd.DataFrame], settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    MarketCache(settings).upsert_history("ethereum", histories["ethereum"], "csv")
    monkeypatch.setenv("COINCAST_DATA_DIR", str(settings.data_dir))
    res = CliRunner().invoke(app, ["tune", "ethereum", "--trials", "3", "--epochs", "2"])
    assert res.exit_code == 0, res.output
    assert "test (once)" in res.output and "naive" in res.output

    (run_dir,) = (settings.data_dir / "tuning").glob("ethereum-*")
    trials = pd.read_csv(run_dir / "trials.csv")
    saved = json.loads((run_dir / "best.json").read_text())
    assert len(trials) == 3
    assert {"window", "units", "layers", "dropout", "lr", "batch_size"} <= set(trials)
    scored = trials.dropna(subset=["val_mape"])
    assert len(scored) >= 1
    # The winner is the trial with the lowest validation error, refitted for its best epoch:
    # the refit reproduces that validation error (same seed, same split).
    best = scored.loc[scored["val_mape"].idxmin()]
    cfg = saved["best_config"]
    assert cfg["window"] == best["window"] and cfg["epochs"] == best["best_epoch"]
    assert cfg["units"][0] == best["units"] and len(cfg["units"]) == best["layers"]
    assert saved["best"]["val_mape"] == pytest.approx(best["val_mape"], rel=1e-4)
    # Every trial and both final fits are scored on the same validation days.
    naive = saved["best"]["val_naive_mape"]
    assert scored["naive_val_mape"].to_numpy() == pytest.approx(naive)
    assert saved["reference"]["val_naive_mape"] == naive
    assert saved["best"]["test_mape"] is not None and saved["reference"]["test_mape"] is not None
    assert saved["split"]["val_start"] < saved["split"]["test_start"]

    stored = ModelRegistry(settings).get("local", "ethereum-tuned")
    _model, window, meta = from_tfjs(stored.model_json, stored.weights)
    assert window == best["window"] and len(meta["tuning"]["trials_table"]) == 3
