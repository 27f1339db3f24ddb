"""The daily job's schedule inside ``coincast serve`` (``COINCAST_DAILY_AT``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from coincast.server.scheduler import start_daily, stop_daily
from coincast.settings import Settings
from tests.helpers.live_server import serve


def test_off_unless_daily_at_is_set(settings: Settings) -> None:
    assert start_daily(settings) is None


def test_daily_at_schedules_the_job_in_utc(settings: Settings) -> None:
    scheduler = start_daily(settings.model_copy(update={"daily_at": "00:40"}))
    try:
        job = scheduler.get_job("daily")
        when = job.next_run_time.astimezone(UTC)
        assert (when.hour, when.minute) == (0, 40)
        assert timedelta(0) < when - datetime.now(UTC) <= timedelta(days=1)
    finally:
        stop_daily(scheduler)
    assert not scheduler.running


def test_a_bad_time_is_refused_with_the_format(tmp_path: object) -> None:
    with pytest.raises(ValidationError, match="daily_at"):
        Settings(_env_file=None, daily_at="25:00")  # type: ignore[call-arg]


def test_a_server_with_the_schedule_starts_and_stops(settings: Settings) -> None:
    with serve(settings.model_copy(update={"daily_at": "00:40"})) as srv, srv.client() as c:
        assert c.get("/ledger", params={"coin": "bitcoin"}).json()["rows"] == []
        scheduler = srv.app.state.daily
        assert scheduler.running and scheduler.get_job("daily") is not None
    assert not scheduler.running  # stopped with the server
