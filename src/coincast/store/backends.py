"""Where the model store keeps its bytes and its rows: two small interfaces, one default each.

A version is two blobs (model.json, weights) plus one metadata row. The registry writes
the blobs first, under a fresh random key nobody references yet, and only then inserts the
row in one transaction; a crash in between leaves unreferenced blobs (invisible, removed
by ``ModelRegistry.collect_garbage``), never a half version. Keeping the two behind
``BlobStore`` and ``MetadataStore`` lets PostgreSQL + an S3-compatible object store follow
(issue 8) without touching the registry: an object PUT is atomic, and the SQL below is
plain SQLAlchemy Core that runs on both SQLite and PostgreSQL.

Default: ``FileBlobStore`` (in ``blobs``) under ``settings.models_dir`` and
``SqlMetadataStore`` (in ``sql_metadata``) on the shared ``coincast.db`` engine; the
records both speak are in ``records``. This module re-exports them all: import from here.
"""

from __future__ import annotations

from coincast.store.blobs import BlobStore, FileBlobStore
from coincast.store.records import MetadataStore, ModelSummary, NewVersion, VersionInfo
from coincast.store.sql_metadata import SqlMetadataStore, model_versions_table, models_table

__all__ = [
    "BlobStore",
    "FileBlobStore",
    "MetadataStore",
    "SqlMetadataStore",
    "VersionInfo",
    "ModelSummary",
    "NewVersion",
    "models_table",
    "model_versions_table",
]
