"""Training jobs live in the shared database: any server process sees, streams and
cancels any job, and a restarted server still lists past jobs. A deployment runs several
server processes behind one address, so a user's next request may reach another one."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
import torch

from coincast.data.market.cache import MarketCache
from coincast.server.job_runner import JobManager
from coincast.server.job_store import JobRecord, JobStore
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from tests.helpers.live_server import serve
from tests.server.test_jobs import COIN, JOBS, SMALL, job_events, sine_history


def _dead_pid() -> int:
    pid = 999_999
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


@pytest.mark.slow
def test_a_job_started_on_one_server_is_seen_streamed_and_cancelled_from_another(
    settings: Settings,
) -> None:
    torch.set_num_threads(1)
    MarketCache(settings).upsert_history(COIN, sine_history(), source="csv")
    with serve(settings) as a, serve(settings) as b, a.client() as ca, b.client() as cb:
        # patience 0: the job never stops early, so only the cancel ends it before 1000
        params = {**SMALL, "epochs": 1000, "patience": 0}
        job = ca.post(JOBS, json={"coin": COIN, "name": "long", "params": params}).json()
        assert job["id"] in {j["id"] for j in cb.get(JOBS).json()["jobs"]}
        seen = 0
        for event, data in job_events(cb, job["id"]):  # server b streams a's progress
            if event == "epoch":
                seen = data["epoch"]
                if seen >= 2:
                    break
        assert seen >= 2
        assert cb.post(f"{JOBS}/{job['id']}/cancel").status_code == 200
        deadline = time.monotonic() + 60
        while (state := cb.get(f"{JOBS}/{job['id']}").json())["status"] == "running":
            assert time.monotonic() < deadline, "a cancel through server b did not stop the job"
            time.sleep(0.1)
        assert state["status"] == "cancelled" and 2 <= state["epoch"] < 1000
        assert ca.get(f"{JOBS}/{job['id']}").json()["status"] == "cancelled"
        assert cb.get("/users/local/models").json()["models"] == []
    # A new server process (same database) still lists the finished job.
    with serve(settings) as c, c.client() as cc:
        listed = {j["id"]: j for j in cc.get(JOBS).json()["jobs"]}
        assert listed[job["id"]]["status"] == "cancelled"
        assert len(listed[job["id"]]["history"]) == listed[job["id"]]["epoch"]


def _record(owner: str, status: str, updated: datetime) -> JobRecord:
    return JobRecord(
        id=f"job-{owner.replace(':', '-')}", user="local", owner=owner,
        spec={"coin": COIN, "name": "m", "preset": "paper", "params": {}, "parent_version": None},
        status=status, created_at=updated, updated_at=updated,
    )  # fmt: skip


def test_a_restarted_server_marks_its_dead_jobs_interrupted(settings: Settings) -> None:
    store = JobStore(settings)
    now = datetime.now(UTC)
    dead = _record(f"{socket.gethostname()}:{_dead_pid()}", "running", now)
    live = _record(f"{socket.gethostname()}:{os.getpid()}", "running", now)
    store.insert(dead)
    store.insert(live)
    manager = JobManager(settings, ModelRegistry(settings))
    try:
        got = manager.get("local", dead.id)
        assert got.status == "failed" and got.error is not None and "server stopped" in got.error
        assert manager.get("local", live.id).status == "running"  # its process still runs
    finally:
        manager.shutdown()


def test_a_job_of_another_host_without_progress_is_reported_stalled(settings: Settings) -> None:
    store = JobStore(settings)
    store.insert(_record("elsewhere:42", "running", datetime.now(UTC) - timedelta(hours=2)))
    store.insert(_record("elsewhere:43", "running", datetime.now(UTC)))
    manager = JobManager(settings, ModelRegistry(settings))
    try:
        states = {j.id: j for j in manager.list("local")}
        stalled = states["job-elsewhere-42"]
        assert stalled.status == "failed" and stalled.error is not None
        assert "No progress for 120 minutes" in stalled.error
        assert states["job-elsewhere-43"].status == "running"
    finally:
        manager.shutdown()
