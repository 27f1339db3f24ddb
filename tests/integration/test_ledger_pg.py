"""The daily job on a real PostgreSQL: two processes started at once run it once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from coincast.api import Forecaster, save
from coincast.data.csv_import import read_history_csv
from coincast.ledger.records import Ledger
from coincast.store.registry import ModelRegistry
from tests.fakes.coingecko import FakeCoinGecko

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[2]


def test_two_processes_on_one_database_run_the_daily_job_once(
    pg_url: str, tmp_path: Path, fake_coingecko: FakeCoinGecko, daily_dir: Path
) -> None:
    settings = fake_coingecko.settings(tmp_path / "data", database_url=pg_url)
    history = read_history_csv(daily_dir / "bitcoin.csv").loc["2023-01-01":]
    fc = Forecaster("shrunk", epochs=2, window=10, units=(8,))
    fc.fit(history, coin="bitcoin")
    save(fc, ModelRegistry(settings), "local", "btc")
    Ledger(settings).track("local", "bitcoin", "btc", days=4)

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "COINCAST_DATA_DIR": str(settings.data_dir),
        "COINCAST_DATABASE_URL": pg_url,
        "COINCAST_COINGECKO_URL": fake_coingecko.url,
        "COINCAST_REQUESTS_PER_MINUTE": "600000",
        "COINCAST_TORCH_THREADS": "1",
        "COLUMNS": "200",
    }
    code = "from coincast.cli import main; main()"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, "daily"],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    ran = [o for o in outputs if "forecast day(s) recorded" in o]
    skipped = [o for o in outputs if "already ran (or runs) elsewhere" in o]
    assert len(ran) == 1 and len(skipped) == 1, outputs
    assert "4 forecast day(s) recorded" in ran[0]

    ledger = Ledger(settings)
    rows = ledger.rows("local", "bitcoin")
    assert [r.horizon for r in rows] == [1, 2, 3, 4]
    assert len(ledger.runs()) == 1 and ledger.runs()[0]["ok"] is True
    assert fake_coingecko.count("/coins/bitcoin/market_chart") == 1  # one refresh, not two
