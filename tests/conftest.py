"""Fixtures shared by the whole suite: settings on a temp dir, the shared data dir, torch
on one thread.

Fixtures for real servers live beside the code they serve, registered here as plugins:
``tests/fakes/coingecko.py`` (fake CoinGecko on loopback) and
``tests/helpers/live_server.py`` (the app in uvicorn, in a thread).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from coincast.settings import Settings

pytest_plugins = ["tests.fakes.coingecko", "tests.helpers.live_server"]

ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("COINCAST_SHARED_DIR", ROOT.parent / "shared")).resolve()
DAILY_DIR = SHARED_DIR / "data" / "daily"
FIXTURES_DIR = SHARED_DIR / "fixtures" / "coingecko"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared development data; tests that need it skip with the reason when absent."""
    if not DAILY_DIR.is_dir():
        pytest.skip(
            f"shared data not found at {SHARED_DIR} (set COINCAST_SHARED_DIR to the folder "
            "holding data/daily/*.csv and fixtures/coingecko/)"
        )
    return SHARED_DIR


@pytest.fixture(scope="session")
def daily_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "daily"


@pytest.fixture(scope="session")
def fixtures_dir(shared_dir: Path) -> Path:
    if not FIXTURES_DIR.is_dir():
        pytest.skip(f"CoinGecko fixtures not found at {FIXTURES_DIR}")
    return FIXTURES_DIR


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings isolated from the developer's environment: temp data dir, no key."""
    yield Settings(_env_file=None, data_dir=tmp_path / "data", shared_dir=SHARED_DIR)  # type: ignore[call-arg]


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Torch on one thread for the test, then as it was: training repeats to the bit (the
    order of a multi-threaded sum varies), and two xdist workers share the two cores
    instead of each spawning a thread per core. Modules that train opt in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch  # here, not at the top: most tests never load torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
