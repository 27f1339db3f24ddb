"""GET /api/v1/presets: the library's presets and the jobs API's own limits, over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from coincast.model.presets import DEFAULT_PRESET, PRESETS
from coincast.server.schemas import TrainParams
from tests.helpers.live_server import LiveServer

# JSON-schema keyword → the answer's name for it.
_LIMITS = {
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "minItems": "min_items",
    "maxItems": "max_items",
}


def _presets(server: LiveServer) -> dict[str, Any]:
    # No token: the page builds its form from this before anyone signs in.
    r = httpx.get(server.api + "/presets", timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_every_library_preset_with_its_values_and_the_default(live_server: LiveServer) -> None:
    body = _presets(live_server)
    assert body["default"] == DEFAULT_PRESET == "shrunk"
    assert [p["name"] for p in body["presets"]] == list(PRESETS)
    assert {"paper", "deep", "return", "shrunk"} <= set(PRESETS)
    for p in body["presets"]:
        library = PRESETS[p["name"]].to_dict()
        assert p["description"] == library["description"]
        # Trainable settings are exactly the job's params; the rest is the fixed recipe.
        assert set(p["params"]) == set(TrainParams.model_fields)
        assert not set(p["params"]) & set(p["recipe"])
        flat = {"name": p["name"], "description": p["description"], **p["params"], **p["recipe"]}
        assert flat == library
    deep = next(p for p in body["presets"] if p["name"] == "deep")
    assert deep["params"]["units"] == [64, 32] and deep["params"]["patience"] == 10


def test_limits_are_the_job_schemas(live_server: LiveServer) -> None:
    fields = _presets(live_server)["fields"]
    schema = TrainParams.model_json_schema()["properties"]
    assert [f["name"] for f in fields] == list(schema)
    for field in fields:
        (expected,) = [s for s in schema[field["name"]]["anyOf"] if s["type"] != "null"]
        assert field["type"] == expected["type"]
        for key, name in _LIMITS.items():
            assert field[name] == expected.get(key), (field["name"], name)
    by_name = {f["name"]: f for f in fields}
    assert by_name["epochs"]["minimum"] == 1 and by_name["epochs"]["maximum"] == 1000
    assert by_name["lr"]["exclusive_minimum"] == 0 and by_name["lr"]["minimum"] is None
    assert (by_name["units"]["items"], by_name["units"]["max_items"]) == ("integer", 4)


def _beyond(field: dict[str, Any]) -> list[Any]:
    """Values just outside each published bound."""
    if field["type"] == "array":
        out: list[Any] = [[8] * (field["max_items"] + 1)]
        return out + ([[8] * (field["min_items"] - 1)] if field["min_items"] else [])
    step = 1 if field["type"] == "integer" else 1e-9
    values = []
    if field["minimum"] is not None:
        values.append(field["minimum"] - step)
    if field["maximum"] is not None:
        values.append(field["maximum"] + step)
    if field["exclusive_minimum"] is not None:
        values.append(field["exclusive_minimum"])
    if field["exclusive_maximum"] is not None:
        values.append(field["exclusive_maximum"])
    return values


def test_the_jobs_api_refuses_values_just_outside_the_published_limits(
    live_server: LiveServer,
) -> None:
    fields = _presets(live_server)["fields"]
    refused = 0
    with live_server.client() as c:
        for field in fields:
            for value in _beyond(field):
                body = {"coin": "bitcoin", "name": "m", "params": {field["name"]: value}}
                r = c.post("/users/local/jobs", json=body)
                assert r.status_code == 422, (field["name"], value, r.text)
                # Named as the form labels it (not "params.window"), with the field's key.
                error = r.json()["error"]
                assert error["message"].startswith(field["label"] + ":"), error
                assert error["field"] == field["name"]
                refused += 1
        assert c.get("/users/local/jobs").json()["jobs"] == []
    assert refused >= 2 * len(fields) - 1


def test_presets_are_in_the_openapi_schema(live_server: LiveServer) -> None:
    schema = httpx.get(live_server.url + "/openapi.json", timeout=30).json()
    get = schema["paths"]["/api/v1/presets"]["get"]
    ref = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/PresetsOut"
    out = schema["components"]["schemas"]["PresetsOut"]["properties"]
    assert {"default", "fields", "presets"} <= set(out)
