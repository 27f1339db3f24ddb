"""A server process whose model store stops a save at a named point (tests only).

``python -m tests.integration.pausing_server POINT PAUSE_FILE``, with the ``COINCAST_*``
environment of the store to use. It serves like ``coincast serve`` (and like
``procs._CHILD``), except that the registry it hands to ``create_app`` wraps the real
metadata and blob stores in ``tests.fakes.faults``: the product itself has no hook.
The port is printed on the first stdout line, as ``procs.start_server`` expects.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import uvicorn

from coincast.db.engine import make_engine
from coincast.server.app import create_app
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from coincast.store.selection import blob_store_for
from coincast.store.sql_metadata import SqlMetadataStore
from tests.fakes.faults import POINTS, Pause, PausingBlobStore, pausing_metadata_store


def pausing_registry(settings: Settings, pause: Pause) -> ModelRegistry:
    """The registry ``settings`` selects, over stores that stop at ``pause.point``."""
    engine = make_engine(settings)  # SqlMetadataStore migrates it on open
    return ModelRegistry(
        settings,
        metadata_store=pausing_metadata_store(SqlMetadataStore(engine), engine, pause),
        blob_store=PausingBlobStore(blob_store_for(settings), pause),
    )


def main(point: str, pause_file: str) -> None:
    if point not in POINTS:
        raise SystemExit(f"unknown pause point {point!r}; choose from {', '.join(POINTS)}")
    settings = Settings()
    registry = pausing_registry(settings, Pause(point, Path(pause_file)))
    app = create_app(settings, loopback=False, registry=registry)
    sock = socket.create_server(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)  # noqa: T201 (the parent reads the port)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_keep_alive=settings.keep_alive_s,
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(*sys.argv[1:3])
