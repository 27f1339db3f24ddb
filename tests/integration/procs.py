"""coincast servers as real OS processes (uvicorn), so tests can ``kill -9`` them and the
load benchmark can run several against one PostgreSQL + object store.

The child binds 127.0.0.1:0 itself and reports the port on its first stdout line, so
parallel tests never collide on ports. ``pause=(point, file)`` starts
``tests/integration/pausing_server.py`` instead, whose saves stop at ``point``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["ServerProcess", "start_server", "running_server"]

_ROOT = Path(__file__).resolve().parents[2]  # where ``-m tests.…`` resolves

_CHILD = """
import socket, sys, uvicorn
from coincast.server.app import create_app
from coincast.settings import Settings
settings = Settings()
app = create_app(settings, loopback=False)
sock = socket.create_server(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                        timeout_keep_alive=settings.keep_alive_s)  # as `coincast serve`
uvicorn.Server(config).run(sockets=[sock])
"""


@dataclass
class ServerProcess:
    proc: subprocess.Popen[str]
    url: str

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    def kill9(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()


def start_server(
    env: Mapping[str, str], timeout: float = 90.0, *, pause: tuple[str, Path] | None = None
) -> ServerProcess:
    if pause is None:
        argv = [sys.executable, "-c", _CHILD]
    else:
        point, pause_file = pause
        argv = [sys.executable, "-m", "tests.integration.pausing_server", point, str(pause_file)]
    proc = subprocess.Popen(argv, env=dict(env), stdout=subprocess.PIPE, text=True, cwd=_ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        raise RuntimeError(f"server process did not start (exit {proc.wait()})")
    server = ServerProcess(proc=proc, url=f"http://127.0.0.1:{line}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(server.api + "/health", timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            server.kill9()
            raise RuntimeError("server process did not answer /health")
        time.sleep(0.1)


@contextlib.contextmanager
def running_server(env: Mapping[str, str]) -> Iterator[ServerProcess]:
    server = start_server(env)
    try:
        yield server
    finally:
        server.stop()
