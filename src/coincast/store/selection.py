"""Which backends the model store uses, chosen from settings alone.

- metadata: ``settings.sqlalchemy_url`` (SQLite in the data dir by default, PostgreSQL
  when ``COINCAST_DATABASE_URL`` is set), migrated to the newest schema on first use;
- files: an S3-compatible bucket when ``COINCAST_S3_ENDPOINT`` is set, else files under
  ``settings.models_dir``.

Several server processes pointed at the same PostgreSQL and bucket share one store: the
version counter lives in the database, the bytes in the bucket, nothing in a process.
"""

from __future__ import annotations

from coincast.db.engine import make_engine
from coincast.db.migrate import upgrade
from coincast.settings import Settings
from coincast.store.blobs import BlobStore, FileBlobStore
from coincast.store.records import MetadataStore
from coincast.store.sql_metadata import SqlMetadataStore

__all__ = ["metadata_store_for", "blob_store_for"]


def metadata_store_for(settings: Settings) -> MetadataStore:
    engine = make_engine(settings)
    upgrade(engine)
    return SqlMetadataStore(engine)


def blob_store_for(settings: Settings) -> BlobStore:
    if settings.s3_endpoint:
        from coincast.store.s3 import S3BlobStore

        return S3BlobStore.from_settings(settings)
    return FileBlobStore(settings.models_dir)
