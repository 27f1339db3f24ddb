"""MarketCache: exact round trips, one transaction per write, snapshots, migrations."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect, text

from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.db import migrate as migrations
from coincast.errors import DataError, NoDataError, StoreUnavailableError
from coincast.settings import Settings
from tests.conftest import DAILY_DIR
from tests.helpers.store_rows import assert_frame_matches_rows, reference_rows

SHARED_FILES = sorted(p.name for p in DAILY_DIR.glob("*.csv"))


@pytest.fixture
def cache(settings: Settings) -> MarketCache:
    return MarketCache(settings)


def test_every_shared_file_round_trips_exactly(cache: MarketCache, daily_dir: Path) -> None:
    for name in SHARED_FILES:
        coin = name.removesuffix(".csv")
        path = daily_dir / name
        rows = reference_rows(path)
        assert cache.upsert_history(coin, read_history_csv(path), source="csv") == len(rows)
    # Read back only after every coin is stored: rows must not leak between coins.
    for name in SHARED_FILES:
        coin = name.removesuffix(".csv")
        rows = reference_rows(daily_dir / name)
        assert_frame_matches_rows(cache.history(coin), rows)
        assert cache.last_date(coin) == max(rows)
    summaries = {s.coin_id: s for s in cache.summaries()}
    assert set(summaries) == {n.removesuffix(".csv") for n in SHARED_FILES}
    assert summaries["bitcoin"].sources == ("csv",)


def _frame(days: list[str], prices: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"price": prices, "volume": [10.0] * len(days), "market_cap": [float("nan")] * len(days)},
        index=pd.DatetimeIndex(pd.to_datetime(days), name="date"),
    )


def test_upsert_replaces_overlap_and_counts_only_new_days(cache: MarketCache) -> None:
    assert cache.upsert_history("x", _frame(["2024-01-01", "2024-01-02"], [1.0, 2.0])) == 2
    assert cache.upsert_history("x", _frame(["2024-01-02", "2024-01-03"], [2.5, 3.0])) == 1
    got = cache.history("x")
    assert got["price"].tolist() == [1.0, 2.5, 3.0]
    assert cache.history("x", start=date(2024, 1, 2), end=date(2024, 1, 2))["price"].tolist() == [
        2.5
    ]
    assert cache.last_date("x") == date(2024, 1, 3)
    assert cache.last_date("y") is None


def test_no_data_message_says_what_to_do(cache: MarketCache) -> None:
    with pytest.raises(NoDataError) as info:
        cache.history("dogecoin")
    assert str(info.value) == (
        "No market data stored for 'dogecoin'. Run `coincast data fetch dogecoin` or "
        "`coincast data import FILE --coin dogecoin` first."
    )


def test_invalid_prices_are_refused_before_writing(cache: MarketCache) -> None:
    with pytest.raises(DataError, match=r"price is missing or not positive on 2024-01-02"):
        cache.upsert_history("x", _frame(["2024-01-01", "2024-01-02"], [1.0, float("nan")]))
    with pytest.raises(NoDataError):
        cache.history("x")


def test_failure_mid_upsert_leaves_previous_rows_intact(
    cache: MarketCache, daily_dir: Path
) -> None:
    """A real database error (a trigger aborting) after >1 statement has run."""
    path = daily_dir / "bitcoin.csv"
    original = read_history_csv(path)
    cache.upsert_history("bitcoin", original.iloc[:3000], source="csv")
    before = cache.history("bitcoin")
    with cache.engine.begin() as conn:
        for op in ("INSERT", "UPDATE"):
            conn.execute(
                text(
                    f"CREATE TRIGGER fail_{op.lower()} BEFORE {op} ON daily "
                    "WHEN NEW.date = '2019-06-01' BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
                )
            )
    changed = original.copy()
    changed["price"] = changed["price"] * 2  # every stored day would change
    assert list(changed.index).index(pd.Timestamp("2019-06-01")) > 2000  # past the first chunk
    with pytest.raises(StoreUnavailableError) as info:
        cache.upsert_history("bitcoin", changed, source="coingecko")
    assert "injected fault" in str(info.value) and "Nothing was changed" in str(info.value)
    pd.testing.assert_frame_equal(cache.history("bitcoin"), before)
    assert cache.summaries()[0].sources == ("csv",)


@dataclass(frozen=True)
class Coin:
    id: str
    symbol: str
    name: str
    volume_rank: int
    market_cap_rank: int | None = None
    current_price: float | None = 1.0
    total_volume: float | None = 2.0
    market_cap: float | None = None
    high_24h: float | None = None
    low_24h: float | None = None
    price_change_percentage_24h: float | None = None


def test_coin_list_is_a_snapshot(cache: MarketCache) -> None:
    cache.upsert_coins([Coin("a", "a", "A", 1), Coin("b", "b", "B", 2), Coin("c", "c", "C", 3)])
    cache.upsert_coins([Coin("c", "c", "C", 1, current_price=5.0), Coin("a", "a", "A", 2)])
    rows = cache.coins()
    assert [(r.id, r.volume_rank) for r in rows] == [("c", 1), ("a", 2), ("b", None)]
    assert rows[0].current_price == 5.0 and rows[0].updated_at.tzinfo is not None
    assert [r.id for r in cache.coins(limit=2)] == ["c", "a"]


def test_fetch_log_newest_first(cache: MarketCache) -> None:
    cache.log_fetch("bitcoin", "history", ok=True, rows=5, requested_days=5)
    cache.log_fetch("bitcoin", "history", ok=False, message="boom")
    cache.log_fetch(None, "markets", ok=True, rows=100)
    log = cache.fetch_log("bitcoin")
    assert [(e.ok, e.rows, e.message) for e in log] == [(False, 0, "boom"), (True, 5, None)]
    assert len(cache.fetch_log()) == 3


def test_schema_version_is_recorded_once(settings: Settings, tmp_path: Path) -> None:
    cache = MarketCache(settings)
    MarketCache(settings)  # a second open must not re-run or duplicate anything
    with cache.engine.connect() as conn:
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    assert [r[0] for r in rows] == [migrations.head_revision()]
    # One runner, one record: the market cache no longer keeps a version table of its own.
    assert "schema_versions" not in inspect(cache.engine).get_table_names()
    assert settings.db_path.is_file()


def test_a_new_migration_runs_once_and_is_recorded(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = MarketCache(settings)
    cache.upsert_history("x", _frame(["2024-01-01"], [1.0]))
    scripts = tmp_path / "migrations"
    shutil.copytree(migrations.SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    head = migrations.head_revision()
    (scripts / "versions" / "9999_note.py").write_text(
        f"""from alembic import op
import sqlalchemy as sa

revision = "9999"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("coins", sa.Column("note", sa.Text, nullable=True))
"""
    )
    monkeypatch.setattr(migrations, "SCRIPTS", scripts)
    migrations.upgrade(cache.engine, force=True)
    # Already recorded: not re-run (a second ADD COLUMN would fail on "duplicate column").
    migrations.upgrade(cache.engine, force=True)
    assert migrations.current_revision(cache.engine) == "9999"
    with cache.engine.connect() as conn:
        columns = [r[1] for r in conn.execute(text("PRAGMA table_info(coins)"))]
    assert "note" in columns
    assert cache.history("x")["price"].tolist() == [1.0]  # data survives the migration
