"""The database or the object store unreachable or slow: a clear 503, no partial version,
and service resumes by itself when the dependency comes back.

A real server (uvicorn on loopback) talks to the real PostgreSQL and S3 through a
``FaultProxy`` that cuts or slows the TCP connections, as a network or crash would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.engine import make_url

from coincast.server.users import UserStore
from coincast.store.registry import ModelRegistry
from tests.helpers.live_server import LiveServer, model_files, multipart, serve
from tests.integration.conftest import scaled_settings
from tests.integration.faultproxy import FaultProxy


@dataclass
class Rig:
    server: LiveServer
    db: FaultProxy
    s3: FaultProxy
    client: httpx.Client
    registry: ModelRegistry  # direct view of the store, for checks

    def upload(self, seed: int) -> httpx.Response:
        return self.client.post("/users/alice/models/btc", files=multipart(*model_files(seed)))

    def versions(self) -> list[int]:
        return [v.version for v in self.registry.list_versions("alice", "btc")]

    def stored_keys(self) -> set[str]:
        return set(self.registry.blobs.keys())


@pytest.fixture
def rig(tmp_path: Path, pg_url: str, s3_endpoint: str, s3_bucket: str) -> Iterator[Rig]:
    pg = make_url(pg_url)
    s3 = urlsplit(s3_endpoint)
    db_proxy = FaultProxy(pg.host or "127.0.0.1", pg.port or 5432)
    s3_proxy = FaultProxy(s3.hostname or "127.0.0.1", s3.port or 80)
    proxied_db = pg.set(port=db_proxy.port, query={"connect_timeout": "2"})
    settings = scaled_settings(
        tmp_path / "data",
        proxied_db.render_as_string(hide_password=False),
        f"http://127.0.0.1:{s3_proxy.port}",
        s3_bucket,
        s3_timeout=1.5,
    )
    # The checks read the store directly, not through the proxies.
    direct = scaled_settings(tmp_path / "direct", pg_url, s3_endpoint, s3_bucket)
    registry = ModelRegistry(direct)
    _user, token = UserStore(direct).add("alice")
    registry.save("alice", "btc", *model_files(seed=1))
    try:
        with serve(settings, loopback=False) as server:
            with server.client(token) as client:
                yield Rig(server, db_proxy, s3_proxy, client, registry)
    finally:
        db_proxy.close()
        s3_proxy.close()


def _assert_503(response: httpx.Response, *words: str) -> str:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["type"] == "StoreUnavailableError"
    message = str(error["message"])
    for word in words:
        assert word in message, message
    assert "Traceback" not in message
    return message


def test_object_store_down_then_back(rig: Rig) -> None:
    keys_before = rig.stored_keys()
    rig.s3.down()
    _assert_503(rig.upload(seed=2), "object store", "COINCAST_S3_ENDPOINT")
    _assert_503(
        rig.client.get("/users/alice/models/btc/versions/1/model.weights.bin"), "object store"
    )
    # Metadata does not need the object store: listings still work.
    assert rig.client.get("/users/alice/models/btc/versions").status_code == 200
    assert rig.versions() == [1] and rig.stored_keys() == keys_before

    rig.s3.up()
    response = rig.upload(seed=2)
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 2  # no number was burnt by the failed upload
    weights = rig.client.get("/users/alice/models/btc/versions/2/model.weights.bin")
    assert weights.status_code == 200 and weights.content == model_files(seed=2)[1]


def test_object_store_slow_beyond_timeout_then_back(rig: Rig) -> None:
    rig.s3.slow(4.0)
    message = _assert_503(rig.upload(seed=3), "object store")
    assert "timed out" in message or "Timeout" in message
    assert rig.versions() == [1]
    rig.s3.up()
    assert rig.upload(seed=3).json()["version"] == 2


def test_database_down_then_back(rig: Rig) -> None:
    keys_before = rig.stored_keys()
    rig.db.down()
    _assert_503(rig.upload(seed=4), "database")
    _assert_503(rig.client.get("/users/alice/models/btc/versions"))
    assert rig.versions() == [1]
    # Files written before the database failed were removed again (or are GC-able).
    assert rig.stored_keys() == keys_before

    rig.db.up()
    response = rig.upload(seed=4)
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 2
    assert rig.versions() == [1, 2]


def test_database_slow_beyond_connect_timeout_then_back(rig: Rig) -> None:
    rig.db.slow(4.0)  # cuts pooled connections: new ones must connect through the crawl
    _assert_503(rig.upload(seed=5))
    assert rig.versions() == [1]
    rig.db.up()
    assert rig.upload(seed=5).json()["version"] == 2
