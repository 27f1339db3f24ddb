"""Model files in an S3-compatible bucket, so several server processes share one store.

Why S3 works for the registry's write-then-commit protocol: a PUT is atomic (a reader
sees the whole object or none, never a prefix), and the registry only references a key
from a metadata row after its PUT succeeded. Every PUT is conditional
(``If-None-Match: *``): keys are fresh UUID paths, so a collision would be a bug, and
the store refuses to overwrite rather than silently replace a stored version's bytes.

boto3 (the AWS SDK) is imported lazily: the core never pays for it unless an endpoint
is configured. Every failure to reach the endpoint, a timeout or a 5xx becomes
``StoreUnavailableError`` (HTTP 503) with the endpoint in the message, so an operator
knows which service to look at.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from coincast.errors import ConfigError, ParameterError, StoreUnavailableError
from coincast.settings import Settings

__all__ = ["S3BlobStore"]

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127})*$")


class S3BlobStore:
    """``BlobStore`` on a bucket of an S3-compatible server (AWS, MinIO, moto, Ceph …)."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-east-1",
        timeout: float = 10.0,
        create_bucket: bool = True,
    ) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:  # pragma: no cover - boto3 is a pinned dependency
            raise ConfigError(
                "COINCAST_S3_ENDPOINT is set but boto3 is not installed. "
                "Reinstall coincast (`make install`)."
            ) from exc
        self.endpoint = endpoint
        self.bucket = bucket
        self._create_bucket = create_bucket
        self._bucket_ready = False
        self._lock = threading.Lock()
        config = Config(
            region_name=region,
            connect_timeout=timeout,
            read_timeout=timeout,
            # Few, quick retries: a client waiting on a dead store should get its 503
            # within a few timeouts, not after botocore's default back-off ladder.
            retries={"max_attempts": 2, "mode": "standard"},
            s3={"addressing_style": "path"},
            # Checksums only when an operation requires them: S3-compatible servers differ
            # in which of the newer flexible checksums they accept.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A client is thread-safe; the session that makes it is not, hence one per store.
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        if not settings.s3_endpoint:
            raise ConfigError("S3BlobStore needs COINCAST_S3_ENDPOINT (the object store's URL).")
        secret = settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None
        return cls(
            settings.s3_endpoint,
            settings.s3_bucket,
            access_key=settings.s3_access_key,
            secret_key=secret,
            region=settings.s3_region,
            timeout=settings.s3_timeout,
        )

    # --- BlobStore ---------------------------------------------------------------------

    def put(self, key: str, data: bytes) -> None:
        _check_key(key)
        self._ensure_bucket()
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except Exception as exc:
            if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise FileExistsError(
                    f"blob {key} already exists; blobs are never overwritten"
                ) from exc
            raise self._unavailable("store a model file in", exc) from exc

    def get(self, key: str) -> bytes:
        _check_key(key)
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            body: bytes = response["Body"].read()
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404", "NoSuchBucket"):
                raise StoreUnavailableError(
                    f"The model file {key} is recorded but missing from bucket "
                    f"'{self.bucket}' at {self.endpoint}. Restore the bucket from a backup, "
                    "or delete this version."
                ) from exc
            raise self._unavailable("read a model file from", exc) from exc
        return body

    def delete(self, key: str) -> None:
        _check_key(key)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404", "NoSuchBucket"):
                return
            raise self._unavailable("delete a model file from", exc) from exc

    def keys(self, older_than: datetime | None = None) -> Iterator[str]:
        """Every key, or those last written before ``older_than`` (S3's LastModified)."""
        try:
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket):
                for item in page.get("Contents", []):
                    if older_than is None or item["LastModified"] < older_than:
                        yield str(item["Key"])
        except Exception as exc:
            if _code(exc) == "NoSuchBucket":
                return
            raise self._unavailable("list the model files in", exc) from exc

    # --- helpers -----------------------------------------------------------------------

    def _ensure_bucket(self) -> None:
        """Create the bucket on first write (not at start-up, so a server can start while
        the object store is still down, and answer 503 until it is back)."""
        if self._bucket_ready or not self._create_bucket:
            return
        with self._lock:
            if self._bucket_ready:
                return
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except Exception as exc:
                if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                    raise self._unavailable("reach", exc) from exc
                try:
                    self._client.create_bucket(Bucket=self.bucket)
                except Exception as create_exc:
                    if _code(create_exc) not in (
                        "BucketAlreadyOwnedByYou",
                        "BucketAlreadyExists",
                    ):
                        raise self._unavailable("create the bucket on", create_exc) from create_exc
            self._bucket_ready = True

    def _unavailable(self, action: str, exc: Exception) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"Could not {action} the object store at {self.endpoint} (bucket "
            f"'{self.bucket}'): {_describe(exc)}. Check that the S3 server is running and "
            "that COINCAST_S3_ENDPOINT, COINCAST_S3_ACCESS_KEY and COINCAST_S3_SECRET_KEY "
            "are right, then retry."
        )


def _check_key(key: str) -> None:
    if not _KEY_RE.fullmatch(key) or any(p in (".", "..") for p in key.split("/")):
        raise ParameterError(f"Invalid blob key {key!r}.")


def _code(exc: Exception) -> str | None:
    """The S3 error code of a botocore ClientError (None for connection errors)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = error.get("Code")
        if code is not None:
            return str(code)
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return str(status) if status is not None else None
    return None


def _describe(exc: Exception) -> str:
    code = _code(exc)
    if code is not None:
        return f"{code} ({type(exc).__name__})"
    name = type(exc).__name__
    if "Timeout" in name:
        return f"timed out ({name})"
    return f"{name}: {exc}"
