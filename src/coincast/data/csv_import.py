"""Offline import: a daily-history CSV file → the same history frame the API gives.

Two layouts are recognised from the header (case and surrounding spaces ignored; extra
columns ignored):

- ``date,price,volume[,market_cap]`` — coincast's own format (and the shared files');
- ``snapped_at,price,market_cap,total_volume`` — CoinGecko's "Historical data" export,
  where ``snapped_at`` looks like ``2013-04-28 00:00:00 UTC``.

Two daily conventions exist: CoinGecko stamps day D with its 00:00 UTC snapshot (≈ the
close of D-1); CoinMarketCap and Yahoo stamp D with the close at 23:59:59 of D. The store
uses CoinGecko's, so ``convention="close"`` moves such rows one day later; without it a
Yahoo file followed by fetched CoinGecko days would repeat one day's move at the seam.

Why a hand-written loop over ``csv`` rather than ``pandas.read_csv``: users need the line
number of the first bad value ("line 1207: price 'n/a' is not a number"), which pandas'
vectorised parser cannot give. The whole file is validated before anything is returned,
so a caller never stores half a file.

>>> frame = read_history_csv("bitcoin.csv")  # doctest: +SKIP
>>> list(frame.columns)                      # doctest: +SKIP
['price', 'volume', 'market_cap']
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import pandas as pd

from coincast.data.frame import HISTORY_COLUMNS, validate_history
from coincast.errors import CsvImportError

__all__ = ["read_history_csv", "CsvLayout", "LAYOUTS"]

_DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T].*)?$")


@dataclass(frozen=True)
class CsvLayout:
    """Which header names carry the date and the three values."""

    name: str
    date: str
    price: str
    volume: str
    market_cap: str
    required: tuple[str, ...]


LAYOUTS = (
    CsvLayout(
        "coincast",
        date="date",
        price="price",
        volume="volume",
        market_cap="market_cap",
        required=("date", "price", "volume"),
    ),
    CsvLayout(
        "coingecko export",
        date="snapped_at",
        price="price",
        volume="total_volume",
        market_cap="market_cap",
        required=("snapped_at", "price", "market_cap", "total_volume"),
    ),
)

_EXPECTED = (
    "expected the header 'date,price,volume[,market_cap]' or CoinGecko's export header "
    "'snapped_at,price,market_cap,total_volume'"
)


def _fail(path: Path, line: int, problem: str) -> CsvImportError:
    return CsvImportError(f"{path}, line {line}: {problem}. Nothing was imported; fix the file.")


def _pick_layout(path: Path, header: list[str]) -> tuple[CsvLayout, dict[str, int]]:
    names = [h.strip().lower() for h in header]
    positions = {name: i for i, name in reversed(list(enumerate(names)))}
    for layout in LAYOUTS:
        if layout.date in positions:
            missing = [c for c in layout.required if c not in positions]
            if missing:
                raise _fail(path, 1, f"missing column(s) {', '.join(missing)}; {_EXPECTED}")
            return layout, positions
    raise _fail(path, 1, f"no date column in header {','.join(header)!r}; {_EXPECTED}")


def _number(
    path: Path, line: int, column: str, raw: str, *, optional: bool, positive: bool = False
) -> float:
    text = raw.strip()
    if not text:
        if optional:
            return math.nan
        raise _fail(path, line, f"{column} is empty")
    try:
        value = float(text)
    except ValueError:
        raise _fail(path, line, f"{column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise _fail(path, line, f"{column} {text!r} is not a finite number")
    if positive and value <= 0:
        raise _fail(path, line, f"{column} {text} must be positive")
    if value < 0:
        raise _fail(path, line, f"{column} {text} is negative")
    return value


def _day(path: Path, line: int, column: str, raw: str) -> date:
    match = _DATE_RE.match(raw.strip())
    if match is not None:
        try:
            return date.fromisoformat(match.group(1))
        except ValueError:
            pass  # matches the pattern but is no calendar day, e.g. 2024-02-30
    raise _fail(path, line, f"{column} {raw.strip()!r} is not a date (expected YYYY-MM-DD)")


def read_history_csv(
    path: str | Path, *, convention: Literal["snapshot", "close"] = "snapshot"
) -> pd.DataFrame:
    """Parse and validate a whole daily-history CSV file; rows may come in any order.

    ``convention="close"``: the file's rows are end-of-day closes (CoinMarketCap, Yahoo);
    they are dated one day later, as CoinGecko's 00:00 snapshot of the next day.
    """
    if convention not in ("snapshot", "close"):
        raise CsvImportError(f"Unknown convention {convention!r}; use 'snapshot' or 'close'.")
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise CsvImportError(f"{path}: no such file. Check the path and retry.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CsvImportError(f"{path}: cannot be read as UTF-8 text ({exc}).") from None
    except csv.Error as exc:
        raise CsvImportError(f"{path}: not a valid CSV file ({exc}).") from None
    if not rows:
        raise _fail(path, 1, f"the file is empty; {_EXPECTED}")
    layout, pos = _pick_layout(path, rows[0])
    width = max(pos[c] for c in layout.required) + 1
    has_cap = layout.market_cap in pos

    seen: dict[date, int] = {}
    dates: list[date] = []
    values: list[tuple[float, float, float]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines carry no data
        if len(row) < width:
            raise _fail(path, line, f"{len(row)} field(s), expected at least {width}")
        day = _day(path, line, layout.date, row[pos[layout.date]])
        if day in seen:
            raise _fail(path, line, f"duplicate date {day} (first seen on line {seen[day]})")
        seen[day] = line
        price = _number(path, line, "price", row[pos[layout.price]], optional=False, positive=True)
        volume = _number(path, line, layout.volume, row[pos[layout.volume]], optional=False)
        cap = math.nan
        if has_cap and pos[layout.market_cap] < len(row):
            cap = _number(path, line, "market_cap", row[pos[layout.market_cap]], optional=True)
        dates.append(day)
        values.append((price, volume, cap))
    if not values:
        raise _fail(path, 2, "the file has a header but no data rows")

    frame = pd.DataFrame(
        values,
        columns=list(HISTORY_COLUMNS),
        index=pd.DatetimeIndex(pd.to_datetime(dates), name="date"),
        dtype="float64",
    ).sort_index()
    if convention == "close":
        frame.index = pd.DatetimeIndex(frame.index + pd.Timedelta(days=1), name="date")
    return validate_history(frame, what=str(path))
