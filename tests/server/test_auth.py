"""Users, tokens and who may read or write what — over real HTTP."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from coincast.errors import ParameterError
from coincast.server.errors import InvalidRequestError
from coincast.server.users import UserStore
from coincast.settings import Settings
from tests.helpers.live_server import LiveServer, model_files, multipart, serve


def _put(c: httpx.Client, user: str, name: str, seed: int = 1) -> httpx.Response:
    mj, w = model_files(seed)
    return c.post(f"/users/{user}/models/{name}", files=multipart(mj, w))


def test_tokens_are_stored_hashed_and_revocable(settings: Settings) -> None:
    store = UserStore(settings)
    user, token = store.add("alice")
    assert user.name == "alice" and token.startswith("cc_") and len(token) > 40
    _, other = store.add("bob")
    assert token != other
    raw = b"".join(p.read_bytes() for p in settings.data_dir.glob("coincast.sqlite3*"))
    assert token.encode() not in raw
    assert hashlib.sha256(token.encode()).hexdigest().encode() in raw
    assert store.authenticate(token) == "alice"
    assert store.authenticate(token + "x") is None
    assert store.authenticate("") is None
    assert [u.name for u in store.list()] == ["alice", "bob"]
    with pytest.raises(InvalidRequestError, match="already exists"):
        store.add("alice")
    with pytest.raises(ParameterError):
        store.add("../evil")
    assert store.remove("alice") is True
    assert store.authenticate(token) is None
    assert store.remove("alice") is False


def test_local_mode_until_the_first_user_exists(live_server: LiveServer) -> None:
    with live_server.client() as anon:
        assert anon.get("/me").json() == {"user": "local", "mode": "local"}
        assert _put(anon, "local", "m").status_code == 201
        token = live_server.add_user("alice")
        r = anon.get("/me")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert "coincast users add" in r.json()["error"]["message"]
        assert anon.get("/users/local/models").status_code == 401
    with live_server.client(token) as alice:
        assert alice.get("/me").json() == {"user": "alice", "mode": "token"}


def test_no_local_mode_off_loopback(settings: Settings) -> None:
    with serve(settings, loopback=False) as srv, srv.client() as anon:
        r = anon.get("/me")
        assert r.status_code == 401 and r.json()["error"]["type"] == "AuthError"


@pytest.fixture
def two_users(live_server: LiveServer) -> tuple[LiveServer, str, str]:
    alice, bob = live_server.add_user("alice"), live_server.add_user("bob")
    with live_server.client(alice) as c:
        assert _put(c, "alice", "secret").status_code == 201
    return live_server, alice, bob


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer cc_wrong"},
        {"Authorization": "Basic YWxpY2U6eA=="},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer " + "x" * 5000},
    ],
    ids=["none", "wrong", "basic", "empty", "huge"],
)
def test_missing_or_bad_tokens_are_401(
    two_users: tuple[LiveServer, str, str], headers: dict[str, str]
) -> None:
    srv, _alice, _bob = two_users
    with httpx.Client(base_url=srv.api, headers=headers) as c:
        for method, path in [
            ("GET", "/users/alice/models"),
            ("GET", "/users/alice/models/secret/versions/1/model.json"),
            ("DELETE", "/users/alice/models/secret/versions/1"),
        ]:
            r = c.request(method, path)
            assert r.status_code == 401, (method, path, r.text)
            assert r.json()["error"]["type"] == "AuthError"
        r = _put(c, "alice", "secret")
        assert r.status_code == 401
    with srv.client(_alice) as c:
        assert c.get("/users/alice/models/secret").json()["n_versions"] == 1


def test_other_users_models_are_403_without_revealing_existence(
    two_users: tuple[LiveServer, str, str],
) -> None:
    srv, alice, bob = two_users
    with srv.client(bob) as c:
        existing = c.get("/users/alice/models/secret/versions/latest/model.json")
        missing = c.get("/users/alice/models/nothing-here/versions/latest/model.json")
        assert existing.status_code == missing.status_code == 403
        strip = existing.json()["error"]["message"].replace("secret", "NAME")
        assert strip == missing.json()["error"]["message"].replace("nothing-here", "NAME")
        assert c.get("/users/alice/models").status_code == 403
        assert _put(c, "alice", "secret", seed=9).status_code == 403
        assert c.delete("/users/alice/models/secret/versions/1").status_code == 403
        assert c.put("/users/alice/models/secret/public", json={"public": True}).status_code == 403
        r = c.post("/users/alice/models/secret/versions/1/forecast", json={"days": 3})
        assert r.status_code == 403
        # Bob's own area works.
        assert _put(c, "bob", "mine").status_code == 201
    with srv.client(alice) as c:
        versions = c.get("/users/alice/models/secret/versions").json()["versions"]
        assert [v["version"] for v in versions] == [1]
        assert c.get("/users/bob/models").status_code == 403


def test_public_models_are_readable_by_anyone_but_writable_by_the_owner_only(
    two_users: tuple[LiveServer, str, str],
) -> None:
    srv, alice, bob = two_users
    with srv.client(alice) as c:
        assert c.put("/users/alice/models/secret/public", json={"public": True}).status_code == 200
        weights = c.get("/users/alice/models/secret/versions/1/model.weights.bin").content
    for token in (bob, None):
        with srv.client(token) as c:
            r = c.get("/users/alice/models/secret/versions/1/model.weights.bin")
            assert r.status_code == 200 and r.content == weights
            assert c.get("/users/alice/models/secret").json()["public"] is True
            assert _put(c, "alice", "secret", seed=3).status_code in (401, 403)
            assert c.delete("/users/alice/models/secret/versions/1").status_code in (401, 403)
    with srv.client(alice) as c:
        assert c.put("/users/alice/models/secret/public", json={"public": False}).status_code == 200
    with srv.client(bob) as c:
        assert c.get("/users/alice/models/secret/versions/1/model.json").status_code == 403
