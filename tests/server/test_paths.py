"""Path rules over real HTTP: declared patterns in OpenAPI, 400 for bad names, 405 + Allow."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from coincast.server.deps import COIN_PATTERN
from coincast.store.registry import NAME_PATTERN, VERSION_PATTERN
from tests.helpers.live_server import LiveServer, model_files, multipart

BASE = "/users/local/models"
PATTERNS = {
    "user": NAME_PATTERN,
    "name": NAME_PATTERN,
    "version": VERSION_PATTERN,
    "coin": COIN_PATTERN,
}


def _path_params(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(route, parameter name, parameter schema) of every path parameter in the document."""
    found = []
    for route, operations in schema["paths"].items():
        for operation in operations.values():
            for param in operation.get("parameters", []):
                if param["in"] == "path":
                    found.append((route, param["name"], param["schema"]))
    return found


def test_openapi_declares_the_pattern_and_length_of_every_name_in_a_path(
    live_server: LiveServer,
) -> None:
    schema = httpx.get(live_server.url + "/openapi.json", timeout=30).json()
    params = _path_params(schema)
    names = {name for _route, name, _schema in params}
    assert {"user", "name", "version", "coin"} <= names
    for route, name, schema in params:
        if name not in PATTERNS:
            continue
        assert schema.get("pattern") == PATTERNS[name], (route, name, schema)
        assert isinstance(schema.get("maxLength"), int) and schema["maxLength"] >= 1


@pytest.mark.parametrize(
    ("param", "good", "bad"),
    [
        ("name", ["btc", "A.b_c-9", "x" * 64], ["", ".hidden", "-x", "a b", "é", "x" * 65]),
        ("version", ["latest", "3", "v3", "999999999"], ["0", "v0", "03", "v", "newest"]),
        ("coin", ["bitcoin", "usd-coin", "0x"], ["Bitcoin", "a b", "-x", "x/y"]),
    ],
)
def test_declared_patterns_accept_what_the_server_accepts(
    param: str, good: list[str], bad: list[str]
) -> None:
    pattern = re.compile(PATTERNS[param])
    assert all(pattern.fullmatch(v) for v in good)
    assert not any(pattern.fullmatch(v) for v in bad)


@pytest.mark.parametrize(
    ("method", "path", "what"),
    [
        ("GET", f"{BASE}/.hidden", "model name"),
        ("POST", f"{BASE}/a%20b", "model name"),
        ("GET", "/users/-x/models", "user name"),
        ("GET", f"{BASE}/btc/versions/0", "version"),
        ("DELETE", f"{BASE}/btc/versions/v03", "version"),
        ("GET", "/coins/Bitcoin/history", "coin id"),
        ("POST", "/coins/a%20b/refresh", "coin id"),
    ],
)
def test_names_breaking_the_pattern_are_a_clear_json_400(
    live_server: LiveServer, method: str, path: str, what: str
) -> None:
    mj, w = model_files(1)
    with live_server.client() as c:
        kwargs: dict[str, Any] = {"files": multipart(mj, w)} if method == "POST" else {}
        r = c.request(method, path, **kwargs)
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["type"] == "InvalidRequestError"
        assert err["message"].startswith(f"Invalid {what} ") and "use " in err["message"]
        assert err["message"].count("Invalid") == 1  # one message per bad segment
        assert c.get(BASE).json()["models"] == []


def test_names_matching_the_pattern_are_never_refused_as_invalid(
    live_server: LiveServer,
) -> None:
    mj, w = model_files(1)
    with live_server.client() as c:
        for name in ["x" * 64, "A.b_c-9", "9"]:
            assert c.post(f"{BASE}/{name}", files=multipart(mj, w)).status_code == 201
            for version in ("latest", "v1", "1"):
                got = c.get(f"{BASE}/{name}/versions/{version}")
                assert got.status_code == 200, got.text
            assert c.get(f"{BASE}/{name}/versions/v2").status_code == 404
        too_long = c.get(f"{BASE}/{'x' * 65}")
        assert too_long.status_code in (400, 422) and "error" in too_long.json()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", f"{BASE}/btc", {"GET", "POST", "PUT"}),
        ("OPTIONS", f"{BASE}/btc", {"GET", "POST", "PUT"}),
        ("DELETE", "/health", {"GET"}),
        ("PROPFIND", "/coins", {"GET"}),
        ("PUT", f"{BASE}/btc/versions/1", {"GET", "DELETE"}),
        ("PATCH", "/users/local/jobs", {"GET", "POST"}),
    ],
)
def test_unsupported_methods_are_json_405_with_the_whole_allow_list(
    live_server: LiveServer, method: str, path: str, allow: set[str]
) -> None:
    with live_server.client() as c:
        r = c.request(method, path)
        assert r.status_code == 405, r.text
        assert set(r.headers["allow"].split(", ")) == allow
        err = r.json()["error"]
        assert err["type"] == "MethodNotAllowed"
        assert all(m in err["message"] for m in allow)
        for other in allow:  # the header is honest: each listed method is routed
            assert c.request(other, path).status_code != 405


@pytest.mark.parametrize("method", ["GET", "OPTIONS", "PATCH", "PROPFIND"])
def test_unknown_api_paths_stay_json_404_for_any_method(
    live_server: LiveServer, method: str
) -> None:
    with live_server.client() as c:
        r = c.request(method, "/no/such/route")
        assert r.status_code == 404, r.text
        assert r.json()["error"]["type"] == "NotFound" and "allow" not in r.headers
