"""``coincast.store.remote`` against a real server on loopback: bytes survive the round
trip, and each refusal arrives as the library error its JSON names."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from coincast.errors import (
    AuthError,
    ForbiddenError,
    ModelFormatError,
    ModelNotFoundError,
    ParameterError,
    StoreUnavailableError,
)
from coincast.settings import Settings
from coincast.store.remote import RemoteModels
from tests.helpers.live_server import LiveServer, model_files


def test_push_then_pull_is_byte_exact(live_server: LiveServer) -> None:
    token = live_server.add_user("alice")
    mj, w = model_files(2)
    with RemoteModels(live_server.url, token) as remote:
        assert remote.push("alice", "btc", mj, w)["version"] == 1
        assert remote.push("alice", "btc", mj, w, parent=1)["version"] == 2
        got_json, got_weights = remote.pull("alice", "btc", "latest")
    assert got_weights == w
    assert json.loads(got_json)["modelTopology"] == json.loads(mj)["modelTopology"]
    assert remote.api == live_server.api


def test_refusals_are_the_errors_the_server_names(live_server: LiveServer) -> None:
    token = live_server.add_user("alice")
    live_server.add_user("bob")
    mj, w = model_files(2)
    with RemoteModels(live_server.url, token) as remote:
        with pytest.raises(ModelNotFoundError, match=r"^The server refused \(404 ModelNotFound"):
            remote.pull("alice", "nothing")
        with pytest.raises(ModelFormatError, match="400 ModelFormatError"):
            remote.push("alice", "btc", mj, w[:-8])
        with pytest.raises(ForbiddenError, match="403"):
            remote.push("bob", "btc", mj, w)
        with pytest.raises(ParameterError, match="400 InvalidRequestError"):
            remote.pull("alice", "btc", "v0")
    with RemoteModels(live_server.url, "not-a-token") as anon:
        with pytest.raises(AuthError, match="401"):
            anon.push("alice", "btc", mj, w)


def test_an_unreachable_server_is_store_unavailable() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with RemoteModels(f"http://127.0.0.1:{port}") as remote:
        with pytest.raises(StoreUnavailableError, match="Cannot reach .* Is the server running"):
            remote.pull("alice", "btc")


def test_the_server_comes_from_the_argument_or_the_settings(tmp_path: Path) -> None:
    bare = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    with pytest.raises(ParameterError, match="COINCAST_REMOTE_URL"):
        RemoteModels.from_settings(bare)
    configured = bare.model_copy(update={"remote_url": "http://example.invalid:1/"})
    with RemoteModels.from_settings(configured) as remote:
        assert remote.api == "http://example.invalid:1/api/v1"
    with RemoteModels.from_settings(configured, "http://127.0.0.1:2") as remote:
        assert remote.api == "http://127.0.0.1:2/api/v1"
