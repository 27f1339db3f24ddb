"""The training form is built from the server's presets: names, default, values, limits."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from coincast.model.presets import DEFAULT_PRESET

# Each #hyper input: value, limits and whether the browser finds the value valid.
_FIELDS = """() => Object.fromEntries([...document.querySelectorAll('#hyper input')].map(
  (i) => [i.name, {value: i.value, min: i.getAttribute('min'), max: i.getAttribute('max'),
                   pattern: i.getAttribute('pattern'), valid: i.checkValidity()}]))"""


def _presets(site: str) -> dict[str, Any]:
    with urllib.request.urlopen(site + "/api/v1/presets", timeout=30) as response:
        body: dict[str, Any] = json.load(response)
    return body


def _matches(shown: str, value: Any) -> bool:
    """Whether the form shows a preset's value: units as "64, 32", no patience as 0."""
    if isinstance(value, list):
        return shown == ", ".join(str(v) for v in value)
    return float(shown) == (0 if value is None else value)


def _open(page: Any, site: str) -> None:
    page.goto(site + "/")
    page.wait_for_selector("body[data-ready='true']")


def test_preset_select_is_the_servers_and_defaults_to_the_library_default(
    page: Any, coincast_site: str
) -> None:
    body = _presets(coincast_site)
    _open(page, coincast_site)
    options = page.eval_on_selector_all("#preset option", "os => os.map(o => o.value)")
    assert options == [p["name"] for p in body["presets"]]
    assert "return" in options  # the preset the hand-written list had lost
    assert page.locator("#preset").input_value() == body["default"] == DEFAULT_PRESET == "shrunk"
    shrunk = next(p for p in body["presets"] if p["name"] == "shrunk")
    assert page.locator("#preset-help").inner_text() == shrunk["description"]
    assert page.locator("#hp-patience").input_value() == "5"
    assert not page.console_errors, page.console_errors


def test_choosing_a_preset_fills_its_values_within_the_servers_limits(
    page: Any, coincast_site: str
) -> None:
    body = _presets(coincast_site)
    limits = {f["name"]: f for f in body["fields"]}
    _open(page, coincast_site)
    # Every preset in turn, the default last (so it is reached by choosing it too).
    order = [p for p in body["presets"] if p["name"] != DEFAULT_PRESET]
    order += [p for p in body["presets"] if p["name"] == DEFAULT_PRESET]
    for preset in order:
        page.select_option("#preset", preset["name"])
        assert page.locator("#preset-help").inner_text() == preset["description"]
        fields = page.evaluate(_FIELDS)
        form = {"window", "epochs", "units", "dropout", "batch_size", "lr", "patience"}
        assert set(fields) == form
        for name, shown in fields.items():
            value = preset["params"][name]
            assert _matches(shown["value"], value), (preset["name"], name, shown, value)
            assert shown["valid"], (preset["name"], name, shown)
            lim = limits[name]
            if lim["type"] == "array":
                assert shown["pattern"].endswith(f"{{0,{lim['max_items'] - 1}}}")
                continue
            low = lim["minimum"] if lim["minimum"] is not None else lim["exclusive_minimum"]
            high = lim["maximum"] if lim["maximum"] is not None else lim["exclusive_maximum"]
            if name == "patience":
                low = 0  # the form's "0 = never", sent as 0 (the server's "never")
            assert float(shown["min"]) == low and float(shown["max"]) == high, (name, shown)

    # The server's strict bounds hold in the form too: lr must be > 0, dropout < 1.
    for name, bad, good in [("lr", "0", "0.01"), ("dropout", "1", "0.5"), ("window", "4", "5")]:
        page.fill(f"#hp-{name}", bad)
        assert not page.evaluate(f"() => document.querySelector('#hp-{name}').checkValidity()")
        page.fill(f"#hp-{name}", good)
        assert page.evaluate(f"() => document.querySelector('#hp-{name}').checkValidity()")

    # Browser training trains the paper preset: choosing it shows paper's values.
    page.select_option("#preset", "deep")
    page.check("input[name='where'][value='browser']")
    paper = next(p for p in body["presets"] if p["name"] == "paper")
    assert page.locator("#preset").input_value() == "paper"
    assert _matches(page.locator("#hp-units").input_value(), paper["params"]["units"])
    assert _matches(page.locator("#hp-epochs").input_value(), paper["params"]["epochs"])
    assert not page.console_errors, page.console_errors


def test_without_the_server_the_form_says_its_presets_are_missing(
    page: Any, static_site: str
) -> None:
    page.route("**/api/v1/**", lambda route: route.abort("connectionrefused"))
    _open(page, static_site)
    assert page.locator("#preset option").count() == 0
    assert page.locator("#hyper input").count() == 0
    assert "could not be loaded" in page.locator("#preset-help").inner_text()
    assert "unreachable" in page.locator("#banner-title").inner_text().lower()
    assert not [e for e in page.console_errors if "Uncaught" in e or "TypeError" in e]
