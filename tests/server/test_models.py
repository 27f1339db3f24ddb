"""The model store over real HTTP: TF.js-style upload/download, versions, ETags, limits."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from coincast.settings import Settings
from tests.helpers.live_server import LiveServer, model_files, multipart, serve

BASE = "/users/local/models"


def _upload(c: httpx.Client, name: str, seed: int, **kw: object) -> httpx.Response:
    mj, w = model_files(seed)
    return c.post(f"{BASE}/{name}", files=multipart(mj, w), **kw)  # type: ignore[arg-type]


def test_upload_then_download_is_byte_identical(live_server: LiveServer) -> None:
    mj, w = model_files(1)
    with live_server.client() as c:
        r = c.post(f"{BASE}/btc", files=multipart(mj, w))
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["user"], body["name"], body["version"]) == ("local", "btc", 1)
        assert body["parent_version"] is None and body["coin"] == "bitcoin"
        assert body["weights_size"] == len(w)

        got_json = c.get(body["model_json_url"].removeprefix("/api/v1"))
        assert got_json.status_code == 200
        assert got_json.headers["content-type"] == "application/json"
        assert json.loads(got_json.content) == json.loads(mj)
        got_w = c.get(f"{BASE}/btc/versions/latest/model.weights.bin")
        assert got_w.headers["content-type"] == "application/octet-stream"
        assert got_w.content == w

        # ETags revalidate; a different version has a different tag.
        etag = got_w.headers["etag"]
        again = c.get(f"{BASE}/btc/versions/1/model.weights.bin", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert c.get(f"{BASE}/btc/versions/1/model.json").headers["etag"] != etag


def test_put_and_underscore_fields_make_the_next_version_with_parent(
    live_server: LiveServer,
) -> None:
    with live_server.client() as c:
        assert _upload(c, "m", 1).status_code == 201
        mj, w = model_files(2)
        r = c.put(f"{BASE}/m", params={"parent": 1}, files=multipart(mj, w, dotted=False))
        assert r.status_code == 201, r.text
        assert r.json()["version"] == 2 and r.json()["parent_version"] == 1
        assert c.get(f"{BASE}/m/versions/latest/model.weights.bin").content == w

        versions = c.get(f"{BASE}/m/versions").json()["versions"]
        assert [v["version"] for v in versions] == [1, 2]
        assert [v["parent_version"] for v in versions] == [None, 1]
        model = c.get(f"{BASE}/m").json()
        assert model["latest_version"] == 2 and len(model["versions"]) == 2
        listed = c.get(BASE).json()["models"]
        assert [(m["name"], m["n_versions"]) for m in listed] == [("m", 2)]

        # A parent that does not exist is refused before anything is stored.
        r = c.post(f"{BASE}/m", params={"parent": 9}, files=multipart(mj, w))
        assert r.status_code == 404 and "no version 9" in r.json()["error"]["message"]
        assert c.get(f"{BASE}/m").json()["n_versions"] == 2


def test_delete_version_moves_latest_back_and_never_reuses_numbers(
    live_server: LiveServer,
) -> None:
    with live_server.client() as c:
        _upload(c, "m", 1)
        _upload(c, "m", 2)
        r = c.delete(f"{BASE}/m/versions/2")
        assert r.status_code == 200 and r.json()["version"] == 2
        assert c.get(f"{BASE}/m/versions/latest").json()["version"] == 1
        missing = c.get(f"{BASE}/m/versions/2/model.json")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "ModelNotFoundError"
        assert _upload(c, "m", 3).json()["version"] == 3


def _snapshot(c: httpx.Client, name: str) -> list[tuple[int, bytes, bytes]]:
    out = []
    for v in c.get(f"{BASE}/{name}/versions").json()["versions"]:
        n = v["version"]
        mj = c.get(f"{BASE}/{name}/versions/{n}/model.json").content
        w = c.get(f"{BASE}/{name}/versions/{n}/model.weights.bin").content
        out.append((n, mj, w))
    return out


def _bad_uploads() -> Iterator[tuple[str, dict[str, object], int, str]]:
    mj, w = model_files(5)
    doc = json.loads(mj)
    yield "truncated weights", {"files": multipart(mj, w[:-7])}, 400, "ModelFormatError"
    wrong = json.loads(mj)
    wrong["weightsManifest"][0]["weights"][0]["shape"] = [3, 32]
    yield "wrong shape", {"files": multipart(json.dumps(wrong).encode(), w)}, 400, "ModelFormat"
    yield "non-JSON", {"files": multipart(b"{not json", w)}, 400, "ModelFormatError"
    nan = bytearray(w)
    nan[0:4] = b"\x00\x00\xc0\x7f"  # float32 NaN, little-endian
    yield "NaN weight", {"files": multipart(mj, bytes(nan))}, 400, "ModelFormatError"
    doc["modelTopology"]["config"]["layers"][0]["class_name"] = "Lambda"
    yield "unknown layer", {"files": multipart(json.dumps(doc).encode(), w)}, 400, "ModelFormat"
    yield "no model.json", {"files": {"other": ("x", b"{}", "application/json")}}, 400, "Invalid"
    yield (
        "not multipart",
        {"content": mj, "headers": {"content-type": "application/json"}},
        400,
        ("InvalidRequestError"),
    )
    yield (
        "broken multipart",
        {
            "content": b"--xx\r\nnonsense",
            "headers": {"content-type": "multipart/form-data; boundary=xx"},
        },
        400,
        "",
    )


@pytest.mark.parametrize("case", list(_bad_uploads()), ids=lambda c: c[0])
def test_bad_uploads_are_clear_4xx_and_leave_versions_untouched(
    live_server: LiveServer, case: tuple[str, dict[str, object], int, str]
) -> None:
    _what, kwargs, status, error_type = case
    with live_server.client() as c:
        _upload(c, "keep", 1)
        before = _snapshot(c, "keep")
        r = c.post(f"{BASE}/keep", **kwargs)  # type: ignore[arg-type]
        assert r.status_code == status, r.text
        err = r.json()["error"]
        assert err["type"].startswith(error_type) and len(err["message"]) > 20
        assert _snapshot(c, "keep") == before


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{BASE}/../x", 404),  # the client normalises it to /users/local/x: no such route
        (f"{BASE}/..", 404),  # normalised to /users/local
        (f"{BASE}/%2e%2e", 400),
        (f"{BASE}/..%2Fx", 404),  # decodes to two segments: no such route
        (f"{BASE}/a%00b", 400),
        ("/users/..%2F..%2Fetc/models/x", 404),
        ("/users/.hidden/models/x", 400),
        (f"{BASE}/{'n' * 65}", 422),
    ],
)
def test_hostile_names_are_refused(live_server: LiveServer, path: str, status: int) -> None:
    mj, w = model_files(1)
    with live_server.client() as c:
        r = c.post(path, files=multipart(mj, w))
        assert r.status_code == status, r.text
        assert "error" in r.json()
        assert c.get(BASE).json()["models"] == []
    stored = [p for p in live_server.settings.data_dir.rglob("*") if p.is_file()]
    assert all(live_server.settings.data_dir in p.parents for p in stored)


def test_huge_bodies_are_413_and_store_nothing(settings: Settings) -> None:
    mj, w = model_files(1)
    small = settings.model_copy(update={"max_weights_bytes": len(w) - 1})
    with serve(small) as srv, srv.client() as c:
        r = c.post(f"{BASE}/m", files=multipart(mj, w))
        assert r.status_code == 413, r.text
        assert "COINCAST_MAX_WEIGHTS_BYTES" in r.json()["error"]["message"]
        # Declared too large: refused before the body is read (raw socket: no client
        # library lets a request claim more bytes than it sends).
        host, port = srv.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /api/v1/users/local/models/m HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 1000000000\r\n\r\n"
            )
            head = b""
            while b"}}" not in head:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                head += chunk
        assert head.startswith(b"HTTP/1.1 413"), head[:80]
        assert b"PayloadTooLargeError" in head
        # Chunked (no Content-Length): counted while streaming.
        limit = small.max_model_json_bytes + small.max_weights_bytes

        def chunks() -> Iterator[bytes]:
            yield (
                b'--zz\r\nContent-Disposition: form-data; name="model.weights.bin"; '
                b'filename="w"\r\nContent-Type: application/octet-stream\r\n\r\n'
            )
            for _ in range(limit // 65536 + 200):
                yield b"y" * 65536

        streamed = c.post(
            f"{BASE}/m",
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=zz"},
        )
        assert streamed.status_code == 413
        assert streamed.json()["error"]["type"] == "PayloadTooLargeError"
        assert c.get(BASE).json()["models"] == []


def test_public_flag_and_openapi(live_server: LiveServer) -> None:
    with live_server.client() as c:
        _upload(c, "shared", 1)
        r = c.put(f"{BASE}/shared/public", json={"public": True})
        assert r.status_code == 200 and r.json()["public"] is True
        bad = c.put(f"{BASE}/shared/public", json={"public": "maybe", "x": 1})
        assert bad.status_code == 422
        assert bad.json()["error"]["type"] == "ValidationError"
        assert "public" in bad.json()["error"]["message"]
        schema = c.get(live_server.url + "/openapi.json").json()
        paths = schema["paths"]
        for p in (
            "/api/v1/users/{user}/models/{name}",
            "/api/v1/users/{user}/models/{name}/versions/{version}/model.json",
            "/api/v1/users/{user}/models/{name}/versions/{version}/forecast",
            "/api/v1/users/{user}/jobs/{job_id}/events",
            "/api/v1/coins/{coin}/history",
        ):
            assert p in paths
        assert set(paths["/api/v1/users/{user}/models/{name}"]) >= {"get", "post", "put"}
        assert c.get(live_server.url + "/docs").status_code == 200
