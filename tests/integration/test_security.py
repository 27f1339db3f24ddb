"""Ownership on every route, hashed tokens, constant-time checks, CORS by configuration,
and hand-written hostile uploads, against the real server on loopback.

The ownership test enumerates the app's own routes, so a route added later under
``/users/{user}/…`` is covered without editing this file.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from coincast.server.users import UserStore, users_table
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from tests.helpers.live_server import LiveServer, model_files, multipart, serve

ALICE_MODEL = model_files(seed=11, meta={"metrics": {"rmse": 123.456789}})


@dataclass
class Two:
    server: LiveServer
    alice: str
    bob: str
    secrets: list[str]  # strings from alice's model that must never reach bob


@pytest.fixture
def two(settings: Settings) -> Iterator[Two]:
    with serve(settings, loopback=False) as server:
        alice, bob = server.add_user("alice"), server.add_user("bob")
        registry: ModelRegistry = server.app.state.services.registry
        info = registry.save("alice", "btc", *ALICE_MODEL)
        leak = [info.etag, info.json_sha256, info.weights_sha256, "123.456789", info.json_key]
        yield Two(server, alice, bob, leak)


def _user_routes(server: LiveServer) -> list[tuple[str, str]]:
    """Every (method, path) of the published schema that names a user."""
    paths = server.app.openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if "{user}" in path
        for method in operations
        if method in ("get", "post", "put", "delete", "patch")
    ]


def _fill(path: str) -> str:
    values = {"user": "alice", "name": "btc", "version": "1", "job_id": "0" * 32}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


def _body(method: str, path: str) -> dict[str, object]:
    if method not in ("POST", "PUT"):
        return {}
    if path.endswith("/models/{name}"):
        return {"files": multipart(*model_files(seed=12))}
    if path.endswith("/public"):
        return {"json": {"public": True}}
    if path.endswith("/forecast"):
        return {"json": {"days": 3}}
    if path.endswith("/jobs"):
        return {"json": {"coin": "bitcoin", "name": "stolen"}}
    return {}


def test_another_users_token_is_refused_on_every_route_without_leaking(two: Two) -> None:
    routes = _user_routes(two.server)
    assert len(routes) >= 12, routes  # the models, versions, files, forecast and jobs routes
    before = ModelRegistry(two.server.settings).get("alice", "btc", 1)
    with httpx.Client(base_url=two.server.url, timeout=60) as client:
        for method, path in routes:
            url = _fill(path)
            for headers, allowed in (
                ({"Authorization": f"Bearer {two.bob}"}, {403, 404}),
                ({}, {401}),
                ({"Authorization": "Bearer cc_not-a-real-token"}, {401}),
            ):
                response = client.request(method, url, headers=headers, **_body(method, path))  # type: ignore[arg-type]
                where = f"{method} {url} with {headers or 'no token'}"
                assert response.status_code in allowed, f"{where}: {response.status_code}"
                assert response.headers["content-type"].startswith("application/json"), where
                text = response.text
                assert set(response.json()) == {"error"}, where
                for secret in two.secrets:
                    assert secret not in text, f"{where} leaked {secret!r}"
    after = ModelRegistry(two.server.settings).get("alice", "btc", 1)
    assert (after.model_json, after.weights) == (before.model_json, before.weights)
    assert [
        v.version for v in ModelRegistry(two.server.settings).list_versions("alice", "btc")
    ] == [1]


def test_public_flag_opens_reads_never_writes(two: Two) -> None:
    api = two.server.api
    as_alice = {"Authorization": f"Bearer {two.alice}"}
    as_bob = {"Authorization": f"Bearer {two.bob}"}
    files = f"{api}/users/alice/models/btc/versions/1"
    assert httpx.get(f"{files}/model.json", headers=as_bob).status_code in (403, 404)
    assert (
        httpx.put(f"{api}/users/alice/models/btc/public", json={"public": True}, headers=as_alice)
    ).status_code == 200
    got = httpx.get(f"{files}/model.weights.bin", headers=as_bob)
    assert got.status_code == 200 and got.content == ALICE_MODEL[1]
    assert httpx.get(f"{files}/model.json").status_code == 200  # anonymous read
    assert (
        httpx.post(
            f"{api}/users/alice/models/btc", files=multipart(*model_files(seed=13)), headers=as_bob
        ).status_code
        == 403
    )
    assert httpx.delete(files, headers=as_bob).status_code == 403
    unflag = httpx.put(
        f"{api}/users/alice/models/btc/public", json={"public": False}, headers=as_bob
    )
    assert unflag.status_code == 403


def test_tokens_are_stored_only_as_sha256(settings: Settings) -> None:
    from coincast.db.engine import make_engine

    users = UserStore(settings)
    _user, token = users.add("carol")
    with make_engine(settings).connect() as conn:
        stored = conn.execute(users_table.select()).one()
    assert stored.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps([str(v) for v in stored])
    assert token.encode() not in settings.db_path.read_bytes()
    assert users.authenticate(token) == "carol"
    assert users.authenticate(token[:-1]) is None
    users.remove("carol")
    assert users.authenticate(token) is None  # a revoked token stops working at once


def test_token_check_is_by_hash_then_constant_time() -> None:
    """No timing assert (the machine is shared); the code path is what must hold."""
    source = inspect.getsource(UserStore.authenticate)
    assert "hmac.compare_digest" in source and "hash_token(token)" in source
    assert "== token" not in source


def test_revoked_token_gets_401_on_the_wire(two: Two) -> None:
    UserStore(two.server.settings).remove("bob")
    response = httpx.get(
        f"{two.server.api}/users/bob/models", headers={"Authorization": f"Bearer {two.bob}"}
    )
    assert response.status_code == 401
    assert "token" in response.json()["error"]["message"]


@pytest.mark.parametrize("origins", [[], ["http://tfjs.allowed.test"]])
def test_cors_only_for_configured_origins(settings: Settings, origins: list[str]) -> None:
    configured = settings.model_copy(update={"cors_origins": origins})
    with serve(configured, loopback=False) as server:
        url = f"{server.api}/users/alice/models/btc/versions/1/model.json"
        for origin in ("http://tfjs.allowed.test", "http://evil.test"):
            preflight = httpx.options(
                url,
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Headers": "authorization",
                },
            )
            simple = httpx.get(url, headers={"Origin": origin})
            allowed = origin in origins
            for response in (preflight, simple):
                got = response.headers.get("access-control-allow-origin")
                assert got == (origin if allowed else None), (origins, origin, response.headers)
            if allowed:
                assert preflight.status_code == 200
                assert "authorization" in preflight.headers["access-control-allow-headers"].lower()


# --- hand-written hostile uploads ---------------------------------------------------------


def _doc() -> dict[str, object]:
    return json.loads(ALICE_MODEL[0])


def _nan_weights() -> bytes:
    import numpy as np

    values = np.frombuffer(ALICE_MODEL[1], dtype="<f4").copy()
    values[3] = np.nan
    return values.tobytes()


def _huge_shape() -> bytes:
    doc = _doc()
    manifest = doc["weightsManifest"]
    manifest[0]["weights"][0]["shape"] = [2**31, 2**31]  # type: ignore[index]
    return json.dumps(doc).encode()


def _files(model_json: bytes, weights: bytes) -> dict[str, object]:
    return {"files": multipart(model_json, weights)}


J, W = ALICE_MODEL
# case -> (path under /api/v1, or "" for alice's upload URL; request kwargs; allowed codes)
HOSTILE: dict[str, tuple[str, Callable[[], dict[str, object]], set[int]]] = {
    "traversal-name": ("/users/alice/models/..%2F..%2Fetc", lambda: _files(J, W), {400, 404}),
    "traversal-dots": ("/users/alice/models/..", lambda: _files(J, W), {400, 404, 405}),
    "traversal-user": ("/users/..%2Falice/models/btc", lambda: _files(J, W), {400, 403, 404}),
    "nan-weights": ("", lambda: _files(J, _nan_weights()), {400}),
    "huge-shape": ("", lambda: _files(_huge_shape(), W), {400}),
    "short-weights": ("", lambda: _files(J, W[:-4]), {400}),
    "long-weights": ("", lambda: _files(J, W + b"\0" * 4), {400}),
    "not-json": ("", lambda: _files(b"{not json", W), {400}),
    "malformed-multipart": (
        "",
        lambda: {
            "content": b'--x\r\nContent-Disposition: form-data; name="model.json"\r\n\r\n{',
            "headers": {"Content-Type": "multipart/form-data; boundary=x"},
        },
        {400, 422},
    ),
    "oversized": ("", lambda: _files(J, b"\0" * 70_000_000), {413}),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_upload_is_a_clear_4xx_and_changes_nothing(two: Two, case: str) -> None:
    suffix, make, allowed = HOSTILE[case]
    kwargs = make()
    url = f"{two.server.api}{suffix or '/users/alice/models/btc'}"
    extra = kwargs.pop("headers", {})
    headers = {"Authorization": f"Bearer {two.alice}", **extra}  # type: ignore[dict-item]
    response = httpx.post(url, headers=headers, timeout=120, **kwargs)  # type: ignore[arg-type]
    assert response.status_code in allowed, (case, response.status_code, response.text[:300])
    message = response.json()["error"]["message"]
    assert len(message) > 20 and "Traceback" not in message
    registry = ModelRegistry(two.server.settings)
    assert [v.version for v in registry.list_versions("alice", "btc")] == [1]
    stored = registry.get("alice", "btc", 1)
    assert (stored.model_json, stored.weights) == ALICE_MODEL
