"""CSV import: both layouts read every value exactly; bad files name file, line, problem."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest

from coincast.data.csv_import import read_history_csv
from coincast.errors import CsvImportError
from tests.conftest import DAILY_DIR
from tests.helpers.store_rows import assert_frame_matches_rows, reference_rows

SHARED_FILES = sorted(p.name for p in DAILY_DIR.glob("*.csv"))


@pytest.mark.parametrize("name", SHARED_FILES or ["bitcoin.csv"])
def test_every_shared_file_reads_exactly(daily_dir: Path, name: str) -> None:
    path = daily_dir / name
    assert_frame_matches_rows(read_history_csv(path), reference_rows(path))


def _write_export(rows: dict, path: Path, newest_first: bool = False) -> None:
    """CoinGecko's 'Historical data' export layout, built from a shared file at test time."""
    days = sorted(rows, reverse=newest_first)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["snapped_at", "price", "market_cap", "total_volume"])
        for day in days:
            price, volume, cap = rows[day]
            out.writerow(
                [
                    f"{day} 00:00:00 UTC",
                    repr(price),
                    "" if math.isnan(cap) else repr(cap),
                    repr(volume),
                ]
            )


@pytest.mark.parametrize("name", ["bitcoin.csv", "matic-network.csv"])
def test_coingecko_export_layout_reads_the_same_values(
    daily_dir: Path, tmp_path: Path, name: str
) -> None:
    rows = reference_rows(daily_dir / name)
    export = tmp_path / "export.csv"
    _write_export(rows, export, newest_first=True)  # order in the file must not matter
    assert_frame_matches_rows(read_history_csv(export), rows)


def _bad(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CsvImportError) as info:
        read_history_csv(path)
    return str(info.value)


GOOD = "date,price,volume,market_cap\n2024-01-01,1.5,10,\n2024-01-02,1.6,11,100\n"


def test_good_small_file_with_extra_columns_and_blank_line(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text(
        "\ufeffDate , Price,volume,market_cap,note\n2024-01-02,2,3,4,x\n\n2024-01-01,1,2,,y\n"
    )
    frame = read_history_csv(path)
    assert [str(d.date()) for d in frame.index] == ["2024-01-01", "2024-01-02"]
    assert frame["price"].tolist() == [1.0, 2.0]
    assert math.isnan(frame["market_cap"].iloc[0]) and frame["market_cap"].iloc[1] == 4.0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "day,price,volume\n2024-01-01,1,2\n",
            "line 1: no date column in header 'day,price,volume'",
        ),
        ("date,price\n2024-01-01,1\n", "line 1: missing column(s) volume;"),
        (
            "snapped_at,price,total_volume\n2024-01-01 00:00:00 UTC,1,2\n",
            "line 1: missing column(s) market_cap;",
        ),
        (GOOD + "2024-01-03,abc,12,\n", "line 4: price 'abc' is not a number"),
        (GOOD + "2024-01-03,1.7,nan,\n", "line 4: volume 'nan' is not a finite number"),
        (GOOD + "2024-01-01,1.7,12,\n", "line 4: duplicate date 2024-01-01 (first seen on line 2)"),
        (GOOD + "2024-01-03,-1.7,12,\n", "line 4: price -1.7 must be positive"),
        (GOOD + "2024-01-03,0,12,\n", "line 4: price 0 must be positive"),
        (GOOD + "2024-01-03,1.7,-12,\n", "line 4: volume -12 is negative"),
        (GOOD + "2024-01-03,1.7,12,-5\n", "line 4: market_cap -5 is negative"),
        (GOOD + "2024-01-03,1.7,,\n", "line 4: volume is empty"),
        (
            GOOD + "03/01/2024,1.7,12,\n",
            "line 4: date '03/01/2024' is not a date (expected YYYY-MM-DD)",
        ),
        (GOOD + "2024-02-30,1.7,12,\n", "line 4: date '2024-02-30' is not a date"),
        (GOOD + "2024-01-03,1.7\n", "line 4: 2 field(s), expected at least 3"),
        ("date,price,volume\n", "line 2: the file has a header but no data rows"),
        ("", "line 1: the file is empty"),
    ],
)
def test_bad_files_name_file_line_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    message = _bad(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'bad.csv'}, {problem}")
    assert message.endswith("Nothing was imported; fix the file.")


def test_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(CsvImportError, match="no such file"):
        read_history_csv(tmp_path / "nope.csv")


def test_close_convention_dates_rows_one_day_later(daily_dir: Path) -> None:
    path = daily_dir / "litecoin.csv"  # CoinMarketCap/Yahoo closes
    snapshot = read_history_csv(path)
    shifted = read_history_csv(path, convention="close")
    assert (shifted.index - snapshot.index == pd.Timedelta(days=1)).all()
    assert shifted.reset_index(drop=True).equals(snapshot.reset_index(drop=True))
