"""kill -9 a real server process in the middle of an upload, at every step of the write.

The server process is ``tests/integration/pausing_server.py``: its registry wraps the real
stores in ``tests.fakes.faults``, so the save stops at the named point and announces it in
a file; the test then SIGKILLs the process. Afterwards no half version is visible, every
earlier version loads with its exact bytes, the next upload gets the next number (no gap),
and garbage collection finds exactly the files the dead save had already stored.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from coincast.server.users import UserStore
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from coincast.store.tfjs.read import from_tfjs
from tests.fakes.faults import POINTS
from tests.helpers.live_server import model_files, multipart
from tests.integration.conftest import settings_env
from tests.integration.procs import running_server, start_server

pytestmark = pytest.mark.slow

# Files a save has put into the store when killed at each point (left as orphans).
ORPHANS = {
    "before-json": 0,
    "mid-json": 0,
    "before-weights": 1,
    "mid-weights": 1,
    "before-row": 2,
    "before-commit": 2,
    "mid-body": 0,
}


def _prepare(settings: Settings) -> tuple[str, list[tuple[bytes, bytes]]]:
    registry = ModelRegistry(settings)
    earlier = [model_files(seed=s) for s in (1, 2)]
    for j, w in earlier:
        registry.save("alice", "btc", j, w)
    _user, token = UserStore(settings).add("alice")
    return token, earlier


def _wait_for(path: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"the save never reached the pause point ({path} missing)")
        time.sleep(0.05)
    return path.read_text()


def _upload_in_background(url: str, token: str, files: tuple[bytes, bytes]) -> threading.Thread:
    def run() -> None:
        try:
            httpx.post(
                url,
                files=multipart(*files),
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )
        except httpx.HTTPError:
            pass  # the server dies under it: that is the point

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _half_sent_body(url: str, token: str, files: tuple[bytes, bytes]) -> socket.socket:
    """Send the headers and half the multipart body, then stop (the server is receiving)."""
    request = httpx.Request(
        "POST", url, files=multipart(*files), headers={"Authorization": f"Bearer {token}"}
    )
    body = request.read()
    head = [
        f"POST {request.url.raw_path.decode()} HTTP/1.1",
        f"Host: {request.url.netloc.decode()}",
    ]
    head += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    sock = socket.create_connection((request.url.host, request.url.port or 80))
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[: len(body) // 2])
    return sock


def _check_after_crash(settings: Settings, earlier: list[tuple[bytes, bytes]], point: str) -> None:
    registry = ModelRegistry(settings)
    versions = registry.list_versions("alice", "btc")
    assert [v.version for v in versions] == [1, 2], f"half version visible after {point}"
    for number, (j, w) in enumerate(earlier, start=1):
        stored = registry.get("alice", "btc", number)
        assert stored.weights == w and stored.model_json == j
        from_tfjs(stored.model_json, stored.weights)  # loads as a model
    orphans = registry.collect_garbage(min_age_s=0)
    assert len(orphans) == ORPHANS[point], (point, orphans)
    assert registry.save("alice", "btc", *model_files(seed=9)).version == 3  # no gap


def _crash_at(settings: Settings, tmp_path: Path, point: str) -> None:
    token, earlier = _prepare(settings)
    pause_file = tmp_path / "paused"
    env = settings_env(settings)
    server = start_server(env, pause=None if point == "mid-body" else (point, pause_file))
    url = f"{server.api}/users/alice/models/btc"
    new_files = model_files(seed=3, units=16)
    try:
        if point == "mid-body":
            sock = _half_sent_body(url, token, new_files)
            time.sleep(0.5)
        else:
            thread = _upload_in_background(url, token, new_files)
            assert _wait_for(pause_file).startswith(point)
    finally:
        server.kill9()
    assert server.proc.returncode == -9
    if point == "mid-body":
        sock.close()
    else:
        thread.join(30)
    _check_after_crash(settings, earlier, point)


@pytest.mark.parametrize("point", [*POINTS, "mid-body"])
def test_kill9_mid_upload_on_postgres_and_s3(
    point: str, pg_s3_settings: Settings, tmp_path: Path
) -> None:
    _crash_at(pg_s3_settings, tmp_path, point)


@pytest.mark.parametrize("point", ["before-commit"])
def test_kill9_mid_upload_on_sqlite_and_files(
    point: str, settings: Settings, tmp_path: Path
) -> None:
    _crash_at(settings, tmp_path, point)


def test_restarted_server_serves_the_earlier_versions(
    pg_s3_settings: Settings, tmp_path: Path
) -> None:
    """After a kill at the last moment, a fresh process serves v2 as latest, byte-exact."""
    token, earlier = _prepare(pg_s3_settings)
    pause_file = tmp_path / "paused"
    env = settings_env(pg_s3_settings)
    server = start_server(env, pause=("before-commit", pause_file))
    try:
        _upload_in_background(f"{server.api}/users/alice/models/btc", token, model_files(seed=3))
        _wait_for(pause_file)
    finally:
        server.kill9()
    with running_server(env) as fresh:
        headers = {"Authorization": f"Bearer {token}"}
        base = f"{fresh.api}/users/alice/models/btc/versions"
        listing = httpx.get(base, headers=headers, timeout=30)
        assert listing.status_code == 200, listing.text
        assert [v["version"] for v in listing.json()["versions"]] == [1, 2]
        weights = httpx.get(f"{base}/latest/model.weights.bin", headers=headers, timeout=30)
        assert weights.status_code == 200 and weights.content == earlier[1][1]
