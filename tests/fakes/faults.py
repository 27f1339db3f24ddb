"""Stores that stop a save at a named point, so a crash test can ``kill -9`` it there.

The product knows nothing of them: a test process builds a ``ModelRegistry`` with these
wrappers around the real stores and hands it to ``create_app`` (see
``tests/integration/pausing_server.py``). When a save reaches ``Pause.point`` the process
writes ``Pause.file`` (so the test knows where it stands) and blocks forever. The
points, in the order a save passes them:

    before-json      nothing written yet
    mid-json         model.json half sent to the blob store (S3: a real, unfinished PUT)
    before-weights   model.json stored, weights not
    mid-weights      weights half sent (S3: a real, unfinished PUT)
    before-row       both files stored, no database transaction yet
    before-commit    version number allocated and row inserted, transaction not committed

Each one must leave no visible half version after the kill.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from coincast.store.blobs import BlobStore
from coincast.store.records import MetadataStore, NewVersion, VersionInfo

__all__ = ["POINTS", "Pause", "PausingBlobStore", "pausing_metadata_store"]

POINTS = (
    "before-json",
    "mid-json",
    "before-weights",
    "mid-weights",
    "before-row",
    "before-commit",
)


@dataclass(frozen=True)
class Pause:
    """Where a save stops (one of ``POINTS``) and the file that announces it."""

    point: str
    file: Path

    def at(self, point: str) -> None:
        """Block forever if ``point`` is this pause's one (after announcing it)."""
        if point != self.point:
            return
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(f"{point} {os.getpid()}\n")
        os.replace(tmp, self.file)
        while True:  # until SIGKILL
            time.sleep(3600)


class _StallingReader(io.RawIOBase):
    """A request body that pauses halfway through the pass that really sends it.

    botocore reads a body once to sign it (SHA-256) and seeks back before sending, so
    the first pass is handed out whole and the second one stops at the hook.
    """

    def __init__(self, data: bytes, pause: Pause, point: str) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._pass = 0
        self._pause = pause
        self._point = point

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._data)}[whence]
        self._pos = base + offset
        if self._pos == 0:
            self._pass += 1
        return self._pos

    def readinto(self, buffer: Any) -> int:
        half = len(self._data) // 2
        if self._pass >= 2 and self._pos >= half:
            self._pause.at(self._point)
        limit = half if self._pass >= 2 else len(self._data)
        end = min(len(self._data), self._pos + len(buffer), max(limit, self._pos + 1))
        n = end - self._pos
        buffer[:n] = self._data[self._pos : end]
        self._pos = end
        return n


class PausingBlobStore:
    """Wraps a ``BlobStore``; the first put is model.json, the second the weights."""

    def __init__(self, inner: BlobStore, pause: Pause) -> None:
        self.inner = inner
        self.pause = pause

    def put(self, key: str, data: bytes) -> None:
        kind = "json" if key.endswith("model.json") else "weights"
        self.pause.at(f"before-{kind}")
        if self.pause.point == f"mid-{kind}":
            client = getattr(self.inner, "_client", None)
            bucket = getattr(self.inner, "bucket", None)
            if client is not None:  # S3: stream half the object, then stop mid-PUT
                body = _StallingReader(data, self.pause, f"mid-{kind}")
                body.seek(0)
                client.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    ContentLength=len(data),
                )
            self.pause.at(f"mid-{kind}")
        self.inner.put(key, data)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def keys(self, older_than: datetime | None = None) -> Iterator[str]:
        return self.inner.keys(older_than)


class _PausingMetadataStore:
    def __init__(self, inner: MetadataStore, pause: Pause) -> None:
        self._inner = inner
        self._pause = pause

    def add_version(self, new: NewVersion) -> VersionInfo:
        self._pause.at("before-row")
        return self._inner.add_version(new)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def pausing_metadata_store(inner: MetadataStore, engine: Engine, pause: Pause) -> MetadataStore:
    """``inner`` (on ``engine``) that stops before the row insert or before its commit."""
    if pause.point == "before-commit":
        pending = threading.local()

        @event.listens_for(engine, "after_cursor_execute")
        def _seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO STORE_MODEL_VERSIONS"):
                pending.row = True

        @event.listens_for(engine, "commit")
        def _before_commit(conn: Any) -> None:
            if getattr(pending, "row", False):
                pause.at("before-commit")

    return _PausingMetadataStore(inner, pause)
