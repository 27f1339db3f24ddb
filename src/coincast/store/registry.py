"""Per-user, per-name, immutable numbered model versions (v1, v2, … and ``latest``).

Every save is validated as a TF.js layers model first (``coincast.store.tfjs``), so the
store never holds bytes a forecast cannot load, and the metrics shown in listings come
from the model's own ``userDefinedMetadata``. Order of a save: both files to fresh keys
(atomic puts) → one DB transaction allocates the number and inserts the row. If the DB
step fails the files are removed; if the process dies, the files stay unreferenced and
``collect_garbage`` removes them. Nothing is ever overwritten in place.

>>> registry = ModelRegistry(settings)                           # doctest: +SKIP
>>> info = registry.save("alice", "btc-paper", model_json, weights)  # doctest: +SKIP
>>> registry.get("alice", "btc-paper", "latest").weights == weights  # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from coincast.errors import ModelFormatError, ParameterError
from coincast.settings import Settings
from coincast.store.blobs import BlobStore
from coincast.store.records import MetadataStore, ModelSummary, NewVersion, VersionInfo

__all__ = [
    "ModelRegistry",
    "StoredVersion",
    "VersionInfo",
    "ModelSummary",
    "validate_name",
    "parse_version",
    "WEIGHTS_PATH",
    "NAME_PATTERN",
    "VERSION_PATTERN",
]

WEIGHTS_PATH = "model.weights.bin"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""User and model names: one safe path segment (the server's OpenAPI declares it too)."""
VERSION_PATTERN = r"^(latest|v?[1-9][0-9]{0,8})$"
"""Version strings ``parse_version`` accepts (without leading zeros), for OpenAPI."""
_NAME_RE = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class StoredVersion:
    info: VersionInfo
    model_json: bytes
    weights: bytes


def validate_name(value: str, what: str = "model name") -> str:
    """Names become path segments and URL parts: one safe segment, never ``.``/``..``."""
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value) or value in (".", ".."):
        raise ParameterError(
            f"Invalid {what} {value!r}: use 1-64 characters from letters, digits, '.', '_' "
            "and '-', starting with a letter or digit."
        )
    return value


def parse_version(version: int | str) -> int | None:
    """``3``, ``"3"``, ``"v3"`` → 3; ``"latest"`` → None (the newest version)."""
    if isinstance(version, bool):
        raise ParameterError(f"Invalid version {version!r}.")
    if isinstance(version, int):
        number = version
    elif version == "latest":
        return None
    elif isinstance(version, str) and re.fullmatch(r"v?[0-9]{1,9}", version):
        number = int(version.lstrip("v"))
    else:
        raise ParameterError(
            f"Invalid version {version!r}: use a number such as 3 (or 'v3'), or 'latest'."
        )
    if number < 1:
        raise ParameterError(f"Invalid version {version!r}: versions start at 1.")
    return number


class ModelRegistry:
    """The model store. Backends default to SQLite (``settings.sqlalchemy_url``) + files.

    ``metadata_store`` and ``blob_store`` may be passed to use other backends or to
    inject faults in tests.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        metadata_store: MetadataStore | None = None,
        blob_store: BlobStore | None = None,
    ) -> None:
        self.settings = settings
        # Backends chosen from settings: PostgreSQL/S3 when configured, else SQLite/files.
        from coincast.store.selection import blob_store_for, metadata_store_for

        self.meta: MetadataStore = metadata_store or metadata_store_for(settings)
        self.blobs: BlobStore = blob_store or blob_store_for(settings)

    # --- writing -----------------------------------------------------------------------

    def save(
        self,
        user: str,
        name: str,
        model_json: bytes,
        weights: bytes,
        parent_version: int | None = None,
    ) -> VersionInfo:
        """Store a new version; raises ModelFormatError (nothing stored) for invalid input."""
        validate_name(user, "user name")
        validate_name(name)
        if parent_version is not None:
            parent_version = parse_version(parent_version)
        self._check_sizes(model_json, weights)
        model_json, metrics = _validated(model_json, weights)
        json_sha = hashlib.sha256(model_json).hexdigest()
        weights_sha = hashlib.sha256(weights).hexdigest()
        prefix = f"{user}/{name}/{uuid.uuid4().hex}"
        new = NewVersion(
            user=user,
            name=name,
            parent_version=parent_version,
            metrics=metrics,
            etag=hashlib.sha256(f"{json_sha}:{weights_sha}".encode()).hexdigest(),
            json_sha256=json_sha,
            weights_sha256=weights_sha,
            json_size=len(model_json),
            weights_size=len(weights),
            json_key=f"{prefix}/model.json",
            weights_key=f"{prefix}/{WEIGHTS_PATH}",
        )
        written: list[str] = []
        try:
            self.blobs.put(new.json_key, model_json)
            written.append(new.json_key)
            self.blobs.put(new.weights_key, weights)
            written.append(new.weights_key)
            return self.meta.add_version(new)
        except BaseException:
            for key in written:
                try:
                    self.blobs.delete(key)
                except Exception:  # garbage collection removes what is left
                    pass
            raise

    def delete_version(self, user: str, name: str, version: int | str) -> VersionInfo:
        """Remove one version (row first, then its files); numbers are not reused."""
        validate_name(user, "user name")
        validate_name(name)
        number = parse_version(version)
        if number is None:
            number = self.meta.get_version(user, name, None).version
        info = self.meta.delete_version(user, name, number)
        for key in (info.json_key, info.weights_key):
            self.blobs.delete(key)
        return info

    def set_public(self, user: str, name: str, public: bool) -> None:
        """Let anyone read this model's versions (writes stay owner-only)."""
        self.meta.set_public(validate_name(user, "user name"), validate_name(name), public)

    def delete_model(self, user: str, name: str) -> list[VersionInfo]:
        """Remove a model with all its versions (and the public flag); returns what went."""
        validate_name(user, "user name")
        validate_name(name)
        infos = self.meta.delete_model(user, name)
        for info in infos:
            for key in (info.json_key, info.weights_key):
                self.blobs.delete(key)
        return infos

    def collect_garbage(self, min_age_s: float = 3600.0) -> list[str]:
        """Delete blob files no version row references (left by a crash mid-save).

        A save's files exist briefly before its row does, so only files older than
        ``min_age_s`` are considered: safe to run while the server is taking uploads.
        """
        cutoff = datetime.now(UTC) - timedelta(seconds=min_age_s)
        candidates = list(self.blobs.keys(older_than=cutoff))
        referenced = self.meta.referenced_keys()  # read after listing: no new row is missed
        orphans = [k for k in candidates if k not in referenced]
        for key in orphans:
            self.blobs.delete(key)
        return orphans

    # --- reading -----------------------------------------------------------------------

    def get(self, user: str, name: str, version: int | str = "latest") -> StoredVersion:
        info = self.info(user, name, version)
        return StoredVersion(
            info=info,
            model_json=self.blobs.get(info.json_key),
            weights=self.blobs.get(info.weights_key),
        )

    def info(self, user: str, name: str, version: int | str = "latest") -> VersionInfo:
        """The row only (for ETag checks and listings, without reading the files)."""
        validate_name(user, "user name")
        validate_name(name)
        return self.meta.get_version(user, name, parse_version(version))

    def etag(self, user: str, name: str, version: int | str = "latest") -> tuple[int, str] | None:
        """(version number, ETag) of a version, None when there is none (no files read)."""
        validate_name(user, "user name")
        validate_name(name)
        return self.meta.get_etag(user, name, parse_version(version))

    def list_models(self, user: str) -> list[ModelSummary]:
        return self.meta.list_models(validate_name(user, "user name"))

    def list_versions(self, user: str, name: str) -> list[VersionInfo]:
        return self.meta.list_versions(validate_name(user, "user name"), validate_name(name))

    def is_public(self, user: str, name: str) -> bool:
        """False for unknown models too, so a public check never reveals what exists."""
        try:
            validate_name(user, "user name")
            validate_name(name)
        except ParameterError:
            return False
        return self.meta.is_public(user, name)

    def _check_sizes(self, model_json: bytes, weights: bytes) -> None:
        from coincast.errors import ModelTooLargeError

        if len(model_json) > self.settings.max_model_json_bytes:
            raise ModelTooLargeError(
                f"model.json is {len(model_json)} bytes; the limit is "
                f"{self.settings.max_model_json_bytes} (COINCAST_MAX_MODEL_JSON_BYTES)."
            )
        if len(weights) > self.settings.max_weights_bytes:
            raise ModelTooLargeError(
                f"The weights are {len(weights)} bytes; the limit is "
                f"{self.settings.max_weights_bytes} (COINCAST_MAX_WEIGHTS_BYTES)."
            )


def _validated(model_json: bytes, weights: bytes) -> tuple[bytes, dict[str, Any]]:
    """Check the model fully; return the model.json to store and its metrics.

    The stored model.json must point at the one weights file served beside it: a manifest
    that names other paths (sharded saves) is rewritten to ``model.weights.bin``, since
    the shards are already concatenated in manifest order.
    """
    from coincast.store.tfjs.read import from_tfjs

    _, _, user_meta = from_tfjs(model_json, weights)
    doc = json.loads(model_json)
    manifest = doc["weightsManifest"]
    paths = [p for group in manifest for p in group.get("paths", [])]
    if paths not in ([WEIGHTS_PATH], [f"./{WEIGHTS_PATH}"]):
        specs = [w for group in manifest for w in group["weights"]]
        doc["weightsManifest"] = [{"paths": [WEIGHTS_PATH], "weights": specs}]
        model_json = json.dumps(doc, separators=(",", ":")).encode()
    return model_json, _metrics(user_meta)


def _metrics(user_meta: dict[str, Any]) -> dict[str, Any]:
    """Training metrics for listings: ``metrics`` (or ``evaluation``) of the metadata."""
    for key in ("metrics", "evaluation"):
        value = user_meta.get(key)
        if isinstance(value, dict):
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise ModelFormatError(
                    f"userDefinedMetadata.{key} is not plain JSON: {exc}."
                ) from exc
            return value
    return {}
