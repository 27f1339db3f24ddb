"""The ledger end to end at the terminal: import, forecast, import the rest, ``ledger show``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from coincast.cli import app
from coincast.ledger.records import Ledger
from coincast.settings import Settings

pytestmark = pytest.mark.usefixtures("one_thread")


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"COINCAST_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "260"}


def _cut(daily_dir: Path, tmp_path: Path, start: str, end: str, name: str) -> Path:
    frame = pd.read_csv(daily_dir / "bitcoin.csv", parse_dates=["date"])
    part = frame[(frame["date"] >= start) & (frame["date"] <= end)]
    path = tmp_path / name
    part.to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def _money(v: float) -> str:
    return f"{v:,.2f}"


def test_forecast_then_import_scores_seven_days_with_the_csv_prices(
    env: dict[str, str], daily_dir: Path, tmp_path: Path
) -> None:
    first = _cut(daily_dir, tmp_path, "2022-01-01", "2024-12-20", "first.csv")
    rest = _cut(daily_dir, tmp_path, "2024-12-21", "2024-12-31", "rest.csv")
    assert run(env, "data", "import", str(first), "--coin", "bitcoin").exit_code == 0

    out = run(env, "forecast", "bitcoin", "--days", "7", "--epochs", "2")
    assert out.exit_code == 0, out.output
    settings = Settings(_env_file=None, data_dir=Path(env["COINCAST_DATA_DIR"]))  # type: ignore[call-arg]
    rows = Ledger(settings).rows("local", "bitcoin")
    assert [r.horizon for r in rows] == list(range(1, 8))
    assert {r.model for r in rows} == {"preset:shrunk"} and not any(r.scored for r in rows)
    # The same forecast asked again (a new network, maybe new numbers) adds no rows.
    assert run(env, "forecast", "bitcoin", "--days", "7", "--epochs", "2").exit_code == 0
    assert len(Ledger(settings).rows("local", "bitcoin")) == 7

    imported = run(env, "data", "import", str(rest), "--coin", "bitcoin")
    assert imported.exit_code == 0, imported.output
    assert "7 recorded forecast day(s) scored" in imported.output

    shown = run(env, "ledger", "show", "bitcoin")
    assert shown.exit_code == 0, shown.output
    truth = pd.read_csv(daily_dir / "bitcoin.csv", index_col="date")["price"]
    naive = float(truth["2024-12-20"])
    scored = Ledger(settings).rows("local", "bitcoin")
    for day in pd.date_range("2024-12-21", "2024-12-27"):
        actual = float(truth[day.date().isoformat()])
        assert _money(actual) in shown.output
        assert _money(naive - actual) in shown.output
        row = next(r for r in scored if r.target_date == day.date())
        assert row.actual == pytest.approx(actual)
        assert row.naive == pytest.approx(naive)
        assert row.error == pytest.approx(row.point - actual)
    assert _money(naive) in shown.output
    assert "track record beside naive" in shown.output
    # The all-time line: 7 scored, naive's MAE beside the model's.
    naive_mae = sum(
        abs(naive - float(truth[d])) for d in truth.loc["2024-12-21":"2024-12-27"].index
    )
    assert _money(naive_mae / 7) in shown.output
    assert "Diebold–Mariano needs 20" in shown.output


def test_show_names_what_to_do_when_nothing_is_recorded(env: dict[str, str]) -> None:
    out = run(env, "ledger", "show", "bitcoin")
    assert out.exit_code == 0
    assert "No forecasts of 'bitcoin' recorded" in out.output


def test_track_rejects_an_unknown_model_and_keeps_a_preset(env: dict[str, str]) -> None:
    bad = run(env, "ledger", "track", "bitcoin", "--model", "nosuch")
    assert bad.exit_code == 1
    assert "nosuch" in bad.output
    ok = run(env, "ledger", "track", "bitcoin", "--model", "preset:shrunk")
    assert ok.exit_code == 0 and "now tracked" in ok.output
    again = run(env, "ledger", "track", "bitcoin", "--model", "preset:shrunk")
    assert "already tracked" in again.output
