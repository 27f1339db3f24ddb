"""Blob storage of the model store: immutable byte objects by key, written atomically.

``FileBlobStore`` is the default (files under ``settings.models_dir``); ``coincast.store.s3``
is the S3-compatible one. Keys are checked against one pattern here, so no key can name a
path outside the root.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

from coincast.errors import ParameterError, StoreUnavailableError

__all__ = ["BlobStore", "FileBlobStore"]

_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
# The last segment may also be a temp file left by a crash mid-write (so GC can remove it).
_KEY_RE = re.compile(rf"^{_SEGMENT}(/{_SEGMENT})*(/\.tmp-[A-Za-z0-9_]+\.part)?$")


class BlobStore(Protocol):
    """Immutable byte objects by key (``a/b/c`` of safe segments); puts are atomic."""

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def keys(self, older_than: datetime | None = None) -> Iterator[str]:
        """Every key (and leftover temp object), optionally only those last written before."""
        ...


class FileBlobStore:
    """Blobs as files: temp file in the same directory, fsync, rename, fsync the directory.

    ``os.replace`` within one directory is atomic on POSIX, so a reader sees the whole file
    or none; the directory fsync makes the new name survive a power cut before the DB row
    that points to it is committed.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY_RE.fullmatch(key) or any(p in (".", "..") for p in key.split("/")):
            raise ParameterError(f"Invalid blob key {key!r}.")
        return self.root.joinpath(*key.split("/"))

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            raise FileExistsError(f"blob {key} already exists; blobs are never overwritten")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StoreUnavailableError(
                f"Could not write model file under {self.root}: {exc.strerror or exc}. "
                "Check that the models directory is writable and the disk is not full."
            ) from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StoreUnavailableError(
                f"The model file {key} is recorded but missing from {self.root}. "
                "Restore the models directory from a backup, or delete this version."
            ) from exc

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # Remove now-empty parent directories up to the root (keeps listings tidy).
        for parent in path.parents:
            if parent == self.root or self.root not in parent.parents:
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def keys(self, older_than: datetime | None = None) -> Iterator[str]:
        if not self.root.is_dir():
            return
        cutoff = None if older_than is None else older_than.timestamp()
        for path in self.root.rglob("*"):
            if path.is_file() and (cutoff is None or path.stat().st_mtime < cutoff):
                yield path.relative_to(self.root).as_posix()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
