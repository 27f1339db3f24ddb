"""The model store on PostgreSQL + a real S3 server: same behaviour as SQLite + files.

Version numbers come from the database; under concurrent saves they are unique and
gap-free, and each number's bytes are exactly the bytes its writer sent.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from coincast.errors import ModelNotFoundError, StoreUnavailableError
from coincast.server.error_status import status_for
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from coincast.store.s3 import S3BlobStore
from tests.helpers.live_server import model_files
from tests.integration.conftest import S3_KEY, S3_SECRET


def _bucket_keys(settings: Settings) -> set[str]:
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=settings.s3_bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def test_round_trip_keeps_bytes_in_the_bucket_not_on_disk(pg_s3_settings: Settings) -> None:
    registry = ModelRegistry(pg_s3_settings)
    assert isinstance(registry.blobs, S3BlobStore)
    j1, w1 = model_files(seed=1)
    j2, w2 = model_files(seed=2)
    v1 = registry.save("alice", "btc", j1, w1)
    v2 = registry.save("alice", "btc", j2, w2, parent_version=1)
    assert (v1.version, v2.version, v2.parent_version) == (1, 2, 1)

    got = registry.get("alice", "btc", 1)
    assert got.weights == w1 and got.info.weights_sha256 == hashlib.sha256(w1).hexdigest()
    assert registry.get("alice", "btc", "latest").weights == w2
    assert _bucket_keys(pg_s3_settings) == {
        v1.json_key,
        v1.weights_key,
        v2.json_key,
        v2.weights_key,
    }
    assert not pg_s3_settings.models_dir.exists()

    registry.delete_version("alice", "btc", 1)
    assert _bucket_keys(pg_s3_settings) == {v2.json_key, v2.weights_key}
    with pytest.raises(ModelNotFoundError):
        registry.get("alice", "btc", 1)
    # Numbers are never reused after a delete.
    assert registry.save("alice", "btc", j1, w1).version == 3


def test_concurrent_saves_get_unique_gap_free_numbers(pg_s3_settings: Settings) -> None:
    # Two registries = two independent stacks of backends, as in two server processes.
    registries = [ModelRegistry(pg_s3_settings) for _ in range(2)]
    files = [model_files(seed=s, units=4) for s in range(6)]
    acknowledged: list[tuple[int, str]] = []
    lock = threading.Lock()

    def save(i: int) -> None:
        j, w = files[i % len(files)]
        info = registries[i % 2].save("bob", "eth", j, w)
        with lock:
            acknowledged.append((info.version, hashlib.sha256(w).hexdigest()))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(save, range(40)))

    numbers = sorted(v for v, _ in acknowledged)
    assert numbers == list(range(1, 41))
    stored = {info.version: info for info in registries[0].list_versions("bob", "eth")}
    assert sorted(stored) == numbers
    for version, sha in acknowledged:
        assert hashlib.sha256(registries[1].get("bob", "eth", version).weights).hexdigest() == sha


def test_failed_insert_rolls_the_number_back(pg_s3_settings: Settings) -> None:
    registry = ModelRegistry(pg_s3_settings)
    j, w = model_files(seed=3)
    registry.save("carol", "sol", j, w)
    before = _bucket_keys(pg_s3_settings)
    with pytest.raises(ModelNotFoundError):
        registry.save("carol", "sol", j, w, parent_version=7)  # no such parent
    assert _bucket_keys(pg_s3_settings) == before  # its files were removed again
    assert registry.save("carol", "sol", j, w).version == 2  # no gap


def test_garbage_collection_removes_only_unreferenced_objects(pg_s3_settings: Settings) -> None:
    registry = ModelRegistry(pg_s3_settings)
    j, w = model_files(seed=4)
    info = registry.save("dave", "ada", j, w)
    registry.blobs.put("dave/ada/deadbeef/model.json", b"{}")  # as a crash would leave it
    assert registry.collect_garbage(min_age_s=3600) == []  # too young to be judged
    assert registry.collect_garbage(min_age_s=0) == ["dave/ada/deadbeef/model.json"]
    assert _bucket_keys(pg_s3_settings) == {info.json_key, info.weights_key}


def test_unreachable_object_store_is_a_503_naming_the_endpoint(
    pg_s3_settings: Settings,
) -> None:
    dead = pg_s3_settings.model_copy(
        update={"s3_endpoint": "http://127.0.0.1:1", "s3_timeout": 1.0}
    )
    registry = ModelRegistry(dead)
    j, w = model_files(seed=5)
    with pytest.raises(StoreUnavailableError, match="127.0.0.1:1") as info:
        registry.save("erin", "dot", j, w)
    assert status_for(type(info.value)) == 503
    assert "COINCAST_S3_ENDPOINT" in str(info.value)
    with pytest.raises(ModelNotFoundError):  # the row was never written
        registry.list_versions("erin", "dot")


def test_market_cache_runs_on_the_same_postgres(pg_s3_settings: Settings) -> None:
    import pandas as pd

    from coincast.data.market.cache import MarketCache

    index = pd.DatetimeIndex(pd.date_range("2024-01-01", periods=5, freq="D"), name="date")
    frame = pd.DataFrame(
        {
            "price": [1.0, 2.0, 3.0, 4.0, 5.0],
            "volume": [10.0, 20.0, 30.0, 40.0, 50.0],
            "market_cap": [100.0, 200.0, 300.0, 400.0, 500.0],
        },
        index=index,
    )
    cache = MarketCache(pg_s3_settings)
    cache.upsert_history("bitcoin", frame, source="csv")
    cache.upsert_history("bitcoin", frame.assign(price=frame["price"] * 2), source="csv")
    got = cache.history("bitcoin")
    assert got["price"].tolist() == [2.0, 4.0, 6.0, 8.0, 10.0]
    assert str(cache.last_date("bitcoin")) == "2024-01-05"
    assert not pg_s3_settings.db_path.exists()  # nothing went to SQLite
