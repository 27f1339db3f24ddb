"""`coincast serve`, `users` and `models` commands (CliRunner; serve as a real process)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from coincast.cli import app
from coincast.server.users import UserStore
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from tests.helpers.live_server import LiveServer, model_files


def _env(settings: Settings) -> dict[str, str]:
    return {"COINCAST_DATA_DIR": str(settings.data_dir)}


def test_users_add_prints_a_working_token_once(settings: Settings) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["users", "add", "alice"], env=_env(settings))
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert UserStore(settings).authenticate(token) == "alice"
    listed = runner.invoke(app, ["users", "list"], env=_env(settings))
    assert "alice" in listed.stdout and token not in listed.stdout
    dup = runner.invoke(app, ["users", "add", "alice"], env=_env(settings))
    assert dup.exit_code == 1 and "already exists" in dup.output
    bad = runner.invoke(app, ["users", "add", "../x"], env=_env(settings))
    assert bad.exit_code == 1 and "Invalid user name" in bad.output
    assert runner.invoke(app, ["users", "remove", "alice"], env=_env(settings)).exit_code == 0
    assert UserStore(settings).authenticate(token) is None


def test_models_list_show_delete(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    mj, w = model_files(1)
    registry.save("local", "btc", mj, w)
    registry.save("local", "btc", *model_files(2), parent_version=1)
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list"], env=_env(settings))
    assert listed.exit_code == 0 and "btc" in listed.stdout and "v2" in listed.stdout
    shown = runner.invoke(app, ["models", "show", "btc"], env=_env(settings))
    assert shown.exit_code == 0 and "v1" in shown.stdout
    gone = runner.invoke(app, ["models", "delete", "btc", "2", "--yes"], env=_env(settings))
    assert gone.exit_code == 0, gone.output
    assert [v.version for v in registry.list_versions("local", "btc")] == [1]
    missing = runner.invoke(app, ["models", "show", "nope"], env=_env(settings))
    assert missing.exit_code == 1 and "no model named" in missing.output


def test_push_and_pull_against_a_live_server(live_server: LiveServer, tmp_path: Path) -> None:
    token = live_server.add_user("alice")
    local = Settings(_env_file=None, data_dir=tmp_path / "client")  # type: ignore[call-arg]
    mj, w = model_files(4)
    ModelRegistry(local).save("alice", "eth", mj, w)
    runner = CliRunner()
    env = {**_env(local), "COINCAST_REMOTE_URL": live_server.url}
    pushed = runner.invoke(app, ["models", "push", "eth", "-u", "alice", "--token", token], env=env)
    assert pushed.exit_code == 0, pushed.output
    assert "v1" in pushed.stdout
    with live_server.client(token) as c:
        assert c.get("/users/alice/models/eth/versions/1/model.weights.bin").content == w

    wrong = runner.invoke(app, ["models", "push", "eth", "-u", "alice", "--token", "x"], env=env)
    assert wrong.exit_code == 1 and "401" in wrong.output

    out = tmp_path / "files"
    pulled = runner.invoke(
        app,
        ["models", "pull", "eth", "-u", "alice", "--out", str(out)],
        env={**env, "COINCAST_REMOTE_TOKEN": token},
    )
    assert pulled.exit_code == 0, pulled.output
    assert (out / "model.weights.bin").read_bytes() == w
    assert json.loads((out / "model.json").read_bytes()) == json.loads(mj)
    assert ModelRegistry(local).get("alice", "eth", "latest").weights == w
    assert ModelRegistry(local).info("alice", "eth", "latest").version == 2


@pytest.mark.slow
def test_serve_prints_its_url_and_serves(settings: Settings) -> None:
    env = {**os.environ, **_env(settings)}
    cmd = [sys.executable, "-c", "from coincast.cli import main; main()", "serve", "--port", "0"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, line
        url = line.split("serving at ")[1].split()[0].rstrip("/")
        assert "single-user" in proc.stdout.readline()
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"{url}/api/v1/me")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not answer"
                time.sleep(0.1)
        assert r.json() == {"user": "local", "mode": "local"}
        assert httpx.get(f"{url}/api/v1/health").json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_socket_turns_nagle_off_on_accepted_connections() -> None:
    """asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; without it
    small answers waited ~40 ms for a delayed ACK."""
    from coincast.cli.server import _bind

    sock = _bind("127.0.0.1", 0)
    seen: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("socket")
        seen.append(peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handler, sock=sock)
        port = sock.getsockname()[1]
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            writer.close()

    asyncio.run(main())
    assert seen and seen[0] != 0
