"""Hostile input, generated: schemathesis against the live server's own OpenAPI schema.

A CI-sized run (a few hundred requests over every route); ``benchmarks/bench_fuzz.py``
runs the full >= 5,000-request campaign. Both require zero 5xx and zero responses that
contradict the schema.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coincast.settings import Settings
from tests.fakes.coingecko import FakeCoinGecko, fake_coingecko  # noqa: F401  (fixture)
from tests.helpers.live_server import model_files, serve
from tests.helpers.offline import import_csvs, offline_settings
from tests.integration.fuzz import run_schemathesis

pytestmark = pytest.mark.slow


def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    fake_coingecko: FakeCoinGecko,  # noqa: F811
    tmp_path: Path,
) -> None:
    settings: Settings = fake_coingecko.settings(tmp_path / "data", max_retries=0)
    with serve(settings, loopback=False) as server:
        token = server.add_user("alice")
        server.app.state.services.registry.save("alice", "btc", *model_files(seed=1))
        result = run_schemathesis(server.url, token, tmp_path, max_examples=8)
    print(f"schemathesis: {result.requests} requests, statuses {dict(result.statuses)}")
    assert result.requests >= 150, result.output[-3000:]
    assert result.server_errors == 0, result.output[-6000:]
    assert result.failures == {}, result.output[-6000:]
    assert result.returncode == 0, result.output[-6000:]


def test_offline_with_imported_coins_only_the_refresh_endpoints_may_answer_5xx(
    daily_dir: Path, tmp_path: Path
) -> None:
    """CoinGecko unreachable, bitcoin and tether imported: every read answers from the
    store or with a 4xx; the two refresh endpoints (whose 503 is the honest answer to an
    upstream failure) are left out of the run."""
    settings = offline_settings(tmp_path / "data")
    import_csvs(settings, daily_dir, "bitcoin", "tether")
    with serve(settings, loopback=False) as server:
        token = server.add_user("alice")
        server.app.state.services.registry.save("alice", "btc", *model_files(seed=1))
        result = run_schemathesis(
            server.url, token, tmp_path, max_examples=5, exclude_path_regex="/refresh$"
        )
    print(f"schemathesis offline: {result.requests} requests, statuses {dict(result.statuses)}")
    assert result.requests >= 100, result.output[-3000:]
    assert result.server_errors == 0, result.output[-6000:]
    assert result.failures == {}, result.output[-6000:]
    assert result.returncode == 0, result.output[-6000:]
