"""What the model store records about a version, and the interface of its metadata store.

Plain frozen dataclasses, so the registry, the server's views and both backends share
one vocabulary without importing SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = ["MetadataStore", "ModelSummary", "NewVersion", "VersionInfo"]


@dataclass(frozen=True)
class VersionInfo:
    """One immutable stored version. ``etag`` hashes both files, so equal ETags mean equal bytes."""

    user: str
    name: str
    version: int
    created_at: datetime
    parent_version: int | None
    metrics: dict[str, Any]
    etag: str
    json_sha256: str
    weights_sha256: str
    json_size: int
    weights_size: int
    json_key: str = field(repr=False)
    weights_key: str = field(repr=False)


@dataclass(frozen=True)
class ModelSummary:
    user: str
    name: str
    public: bool
    latest_version: int
    n_versions: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewVersion:
    """What the registry hands the metadata store; the store allocates the number."""

    user: str
    name: str
    parent_version: int | None
    metrics: dict[str, Any]
    etag: str
    json_sha256: str
    weights_sha256: str
    json_size: int
    weights_size: int
    json_key: str
    weights_key: str


class MetadataStore(Protocol):
    """Rows describing versions; ``add_version`` allocates the next number atomically."""

    def add_version(self, new: NewVersion) -> VersionInfo: ...
    def get_version(self, user: str, name: str, version: int | None) -> VersionInfo: ...
    def get_etag(self, user: str, name: str, version: int | None) -> tuple[int, str] | None: ...
    def list_versions(self, user: str, name: str) -> list[VersionInfo]: ...
    def list_models(self, user: str) -> list[ModelSummary]: ...
    def delete_version(self, user: str, name: str, version: int) -> VersionInfo: ...
    def delete_model(self, user: str, name: str) -> list[VersionInfo]: ...
    def set_public(self, user: str, name: str, public: bool) -> None: ...
    def is_public(self, user: str, name: str) -> bool: ...
    def referenced_keys(self) -> set[str]: ...
