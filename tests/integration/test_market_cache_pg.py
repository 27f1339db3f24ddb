"""The market cache on a real PostgreSQL: same values, same upsert and rollback rules."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect, text

from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.db import migrate as migrations
from coincast.errors import StoreUnavailableError
from coincast.settings import Settings
from tests.store_helpers import assert_frame_matches_rows, reference_rows


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", database_url=pg_url)  # type: ignore[call-arg]


def test_round_trip_and_rollback_on_postgres(pg_settings: Settings, daily_dir: Path) -> None:
    # Several first opens at once must not trip over each other (one process: a lock;
    # several processes: the PostgreSQL advisory lock inside migrations.upgrade()).
    errors: list[BaseException] = []

    def open_cache() -> None:
        try:
            MarketCache(pg_settings)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_cache) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    cache = MarketCache(pg_settings)
    with cache.engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    assert [tuple(v) for v in versions] == [(migrations.head_revision(),)]
    assert "schema_versions" not in inspect(cache.engine).get_table_names()

    path = daily_dir / "tether.csv"  # gaps, and market caps that stop in 2021
    frame = read_history_csv(path)
    assert cache.upsert_history("tether", frame, source="csv") == len(frame)
    assert_frame_matches_rows(cache.history("tether"), reference_rows(path))

    with cache.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION fail_on_day() RETURNS trigger AS $$ BEGIN "
                "IF NEW.date = DATE '2020-06-01' THEN RAISE EXCEPTION 'injected fault'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER fail BEFORE INSERT OR UPDATE ON daily "
                "FOR EACH ROW EXECUTE FUNCTION fail_on_day()"
            )
        )
    with pytest.raises(StoreUnavailableError, match="injected fault"):
        cache.upsert_history("tether", frame.assign(price=frame["price"] * 3), source="coingecko")
    got = cache.history("tether")
    assert_frame_matches_rows(got, reference_rows(path))
    assert isinstance(got.index, pd.DatetimeIndex)
