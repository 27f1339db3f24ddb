"""The training form says what is wrong where it is wrong: each bad value's message under
its field (the form's own checks and the server's answers alike, in the same words and
limits), the model name's allowed characters, failures in the training section, typed
values kept across server/browser, the early-stop note, and training further in the
browser with the parent recorded."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coincast.store.registry import NAME_PATTERN
from tests.helpers.live_server import LiveServer, serve

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"hp-window": "10", "hp-units": "4", "hp-batch_size": "64"}


@pytest.fixture
def site(fake_coingecko: Any, tmp_path: Path) -> Iterator[LiveServer]:
    settings = fake_coingecko.settings(tmp_path / "data", max_retries=1, backoff_max=0.2)
    with serve(settings) as server:
        yield server


def _url(server: LiveServer) -> str:
    return server.url.rstrip("/")


def _open(page: Any, server: LiveServer, coin: str = "bitcoin") -> None:
    page.goto(_url(server) + "/")
    page.wait_for_selector("body[data-ready='true']")
    page.fill("#coin-search", coin)
    page.click(f"#coin-table tr[data-coin='{coin}']")
    page.wait_for_selector("#history[data-state='ready']")


def _post_job(server: LiveServer, body: dict[str, Any]) -> dict[str, Any]:
    """The server's own answer to a job, for comparing its words with the form's."""
    req = urllib.request.Request(
        _url(server) + "/api/v1/users/local/jobs",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30):
            raise AssertionError(f"the server accepted {body}")
    except urllib.error.HTTPError as err:
        error: dict[str, Any] = json.load(err)["error"]
        return error


def _get(server: LiveServer, path: str) -> Any:
    with urllib.request.urlopen(_url(server) + "/api/v1/" + path, timeout=30) as response:
        return json.load(response)


def _fill(page: Any, values: dict[str, str]) -> None:
    for selector, value in values.items():
        page.fill(f"#{selector}", value)


def _field_error(page: Any, key: str) -> str:
    box = page.locator(f"#err-{key}")
    box.wait_for()
    assert box.is_visible()
    text: str = box.inner_text()
    return text


def _wait_done(page: Any) -> str:
    page.wait_for_selector(
        "#progress[data-state='done'], #progress[data-state='failed']", timeout=120_000
    )
    state: str = page.locator("#progress").get_attribute("data-state")
    assert state == "done", page.locator("#progress-text").inner_text()
    return state


@pytest.mark.parametrize(
    ("field", "value", "params", "start"),
    [
        ("units", "", {"units": []}, "LSTM units: give at least one layer size (allowed: 1 to "),
        ("window", "2", {"window": 2}, "Window (days): at least 5 days (allowed: a whole number"),
        ("epochs", "0", {"epochs": 0}, "Epochs: at least 1 epoch (allowed: a whole number"),
        ("epochs", "5000", {"epochs": 5000}, "Epochs: at most 1000 epochs (allowed:"),
        ("lr", "0", {"lr": 0}, "Learning rate: more than 0 (allowed: from above 0 to 1)"),
    ],
)
def test_each_bad_value_is_told_under_its_field_in_the_servers_words(
    page: Any, site: LiveServer, field: str, value: str, params: dict[str, Any], start: str
) -> None:
    _open(page, site)
    page.fill(f"#hp-{field}", value)
    page.click("#train-start")
    shown = _field_error(page, field)
    assert shown.startswith(start), shown
    assert page.locator(f"#hp-{field}").get_attribute("aria-invalid") == "true"
    assert f"err-{field}" in page.locator(f"#hp-{field}").get_attribute("aria-describedby")
    assert page.locator("#progress").is_hidden()  # nothing was sent
    assert _get(site, "users/local/jobs")["jobs"] == []
    # The server answers the same value with the same sentence (plus where to change it).
    server = _post_job(site, {"coin": "bitcoin", "name": "m", "params": params})
    assert server["field"] == field
    assert server["message"].startswith(shown.rstrip(".")), (server, shown)
    # Typing again takes the message away.
    page.fill(f"#hp-{field}", "7")
    assert page.locator(f"#err-{field}").count() == 0
    assert page.locator(f"#hp-{field}").get_attribute("aria-invalid") is None


def test_the_model_name_says_which_characters_are_allowed(page: Any, site: LiveServer) -> None:
    _open(page, site)
    help_text = page.locator("#name-help").inner_text()
    assert all(part in help_text for part in ("Letters, digits", "'.'", "'_'", "'-'", "1–64"))
    # The form's rule is the server's, name by name.
    names = ["ok", "a.b_c-d", "x" * 64, "x" * 65, "bad name", "-lead", ".", "é", "a/b", ""]
    checked = page.evaluate(
        """async (names) => { const p = await import('./presets.js');
           return names.map((n) => p.checkName(n) === null); }""",
        names,
    )
    assert checked == [re.fullmatch(NAME_PATTERN, n) is not None for n in names]
    page.fill("#model-name", "my model!")
    page.click("#train-start")
    shown = _field_error(page, "name")
    assert shown.startswith("Invalid model name 'my model!': use 1-64 characters from letters")
    assert page.locator("#model-name").get_attribute("aria-invalid") == "true"
    server = _post_job(site, {"coin": "bitcoin", "name": "my model!"})
    assert server["message"] == shown


def test_server_side_errors_show_under_their_field_and_in_the_training_section(
    page: Any, site: LiveServer
) -> None:
    # A form whose window limit is looser than the server's: the server's 422 names the
    # field (error.field), and the page puts its message under that field.
    body = _get(site, "presets")
    for f in body["fields"]:
        if f["name"] == "window":
            f["minimum"] = 2
    served = json.dumps(body)
    page.route(
        "**/api/v1/presets",
        lambda route: route.fulfill(status=200, content_type="application/json", body=served),
    )
    _open(page, site)
    page.fill("#hp-window", "3")
    page.click("#train-start")
    page.wait_for_selector("#progress[data-state='failed']")
    shown = _field_error(page, "window")
    assert shown.startswith("Window (days): at least 5 days"), shown
    assert "change it in the training form" in shown
    section = page.locator("#train-error")
    assert section.is_visible() and "Window (days)" in section.inner_text()
    progress = page.locator("#progress-text").inner_text()
    assert progress.startswith("Training on the server failed: Window (days)"), progress
    assert "see the message above" not in progress
    assert page.locator("#banner-title").inner_text() == "A setting is not allowed."

    # Too little history for the window: the job fails on the server; its message names
    # the Window (days) field, so it shows there too.
    page.unroute("**/api/v1/presets")
    _open(page, site)
    _fill(page, {"hp-epochs": "1", "hp-window": "365"})
    page.click("#train-start")
    page.wait_for_selector("#progress[data-state='failed']", timeout=60_000)
    shown = _field_error(page, "window")
    assert "shorter Window (days)" in shown and "--window" not in shown, shown
    assert "shorter Window (days)" in page.locator("#train-error").inner_text()
    assert page.locator("#banner-title").inner_text() != "Something went wrong."
    # A new attempt clears the old messages first.
    page.fill("#hp-window", "2")
    page.click("#train-start")
    assert _field_error(page, "window").startswith("Window (days): at least 5 days")
    assert page.locator("#train-error").is_hidden()


def test_switching_server_and_browser_keeps_typed_values(page: Any, site: LiveServer) -> None:
    _open(page, site, "ethereum")
    page.select_option("#preset", "paper")
    typed = {"hp-epochs": "7", "hp-window": "21", "hp-batch_size": "16", "hp-lr": "0.005"}
    _fill(page, {**typed, "hp-units": "12", "model-name": "mine"})
    for where in ("browser", "server", "browser", "server"):
        page.check(f"input[name='where'][value='{where}']")
        for selector, value in typed.items():
            assert page.locator(f"#{selector}").input_value() == value, (where, selector)
        assert page.locator("#hp-units").input_value() == "12"
        assert page.locator("#model-name").input_value() == "mine"
    # Choosing a preset still loads that preset's values.
    presets = {p["name"]: p for p in _get(site, "presets")["presets"]}
    page.select_option("#preset", "deep")
    assert page.locator("#hp-epochs").input_value() == str(presets["deep"]["params"]["epochs"])
    assert page.locator("#hp-units").input_value() == "64, 32"
    # Switching to the browser then trains paper: untyped fields take paper's values.
    page.fill("#hp-epochs", "3")
    page.check("input[name='where'][value='browser']")
    assert page.locator("#preset").input_value() == "paper"
    assert page.locator("#hp-epochs").input_value() == "3"
    assert page.locator("#hp-units").input_value() == str(presets["paper"]["params"]["units"][0])
    # The estimate names what trains here: the fused kernel, not TF.js's fit.
    page.wait_for_selector("#train-estimate[data-seconds]", timeout=60_000)
    estimate = page.locator("#train-estimate").inner_text()
    assert "fused LSTM kernel in WebAssembly SIMD" in estimate, estimate
    page.goto(_url(site) + "/?kernel=tfjs#coin=ethereum")
    page.wait_for_selector("#history[data-state='ready']")
    page.check("input[name='where'][value='browser']")
    page.wait_for_selector("#train-estimate[data-seconds]", timeout=60_000)
    estimate = page.locator("#train-estimate").inner_text()
    assert "TensorFlow.js, wasm backend; measured here" in estimate and "fused" not in estimate


@pytest.mark.slow
def test_the_early_stop_note_is_shown_for_server_and_browser_runs(
    page: Any, site: LiveServer
) -> None:
    # lr 1 makes the validation loss jump about: patience 1 stops long before 40 epochs.
    stop = re.compile(
        r"Stopped at epoch (\d+) of 40: no better validation loss for 1 epoch; "
        r"best epoch (\d+) kept\."
    )
    _open(page, site)
    page.select_option("#preset", "paper")
    _fill(page, {**TINY, "hp-epochs": "40", "hp-lr": "1", "hp-patience": "1", "hp-dropout": "0"})
    page.click("#train-start")
    _wait_done(page)
    note = page.locator("#train-note")
    assert note.is_visible()
    match = stop.fullmatch(note.inner_text())
    assert match, note.inner_text()
    assert int(match[2]) == int(match[1]) - 1
    job = _get(site, "users/local/jobs")["jobs"][0]
    assert job["note"] == note.inner_text()
    assert note.inner_text() in page.locator("#progress-text").inner_text()

    page.check("input[name='where'][value='browser']")
    assert not page.locator("#hp-patience").is_disabled()  # the browser stops early too
    page.fill("#model-name", "browser-stop")
    page.click("#train-start")
    _wait_done(page)
    match = stop.fullmatch(note.inner_text())
    assert match, note.inner_text()
    run = int(match[1])
    meta = _get(site, "users/local/models/browser-stop/versions/1/model.json")
    assert meta["userDefinedMetadata"]["training"]["epochs_run"] == run
    assert meta["userDefinedMetadata"]["preset"]["patience"] == 1


@pytest.mark.slow
def test_train_further_in_the_browser_records_the_parent(page: Any, site: LiveServer) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    _open(page, site, "cardano")
    page.check("input[name='where'][value='browser']")
    _fill(page, {"hp-epochs": "3", "hp-window": "12", "hp-units": "6"})
    page.click("#train-start")
    _wait_done(page)
    v1 = page.locator("#library-table tr[data-model='cardano-paper'][data-version='1']")
    v1.wait_for()
    first = page.evaluate("() => window.coincast.state.charts.loss.data[1]")

    v1.locator("button.further").click()
    assert "further" in page.locator("#train-start").inner_text()
    page.wait_for_function("() => document.querySelector('#hp-window').disabled")
    # The network is v1's: window and units are shown and fixed.
    assert page.locator("#hp-window").input_value() == "12"
    assert page.locator("#hp-units").input_value() == "6"
    assert page.locator("#hp-window").is_disabled() and page.locator("#hp-units").is_disabled()
    page.check("input[name='where'][value='browser']")
    assert "parent" in page.locator("#where-help").inner_text()
    page.fill("#hp-epochs", "1")
    page.click("#train-start")
    _wait_done(page)
    page.locator("#library-table tr[data-model='cardano-paper'][data-version='2']").wait_for()
    versions = _get(site, "users/local/models/cardano-paper/versions")["versions"]
    assert [v["parent_version"] for v in versions] == [None, 1]
    # It continued from v1's weights: its first epoch is better than v1's first was.
    further = page.evaluate("() => window.coincast.state.charts.loss.data[1]")
    assert further[0] < first[0], (first, further)
    meta = _get(site, "users/local/models/cardano-paper/versions/2/model.json")
    assert meta["userDefinedMetadata"]["window"] == 12


def test_train_further_of_a_server_only_design_disables_the_browser_with_a_reason(
    page: Any, site: LiveServer
) -> None:
    from coincast.api import Forecaster, load_history, save

    _open(page, site)  # picking bitcoin stores its history
    history = load_history("bitcoin", site.settings).iloc[-200:]
    fc = Forecaster("shrunk", epochs=1, window=10, units=(4,))
    fc.fit(history, coin="bitcoin")
    save(fc, site.app.state.services.registry, "local", "btc-shrunk")
    page.click("#library-refresh")
    row = page.locator("#library-table tr[data-model='btc-shrunk'][data-version='1']")
    row.locator("button.further").click()
    browser = page.locator("input[name='where'][value='browser']")
    page.wait_for_function(
        "() => document.querySelector('#where-help').textContent.includes('server only: it is')"
    )
    assert browser.is_disabled()
    reason = page.locator("#where-help").inner_text()
    assert "btc-shrunk v1 trains further on the server only" in reason and "shrunk" in reason
    assert page.locator("input[name='where'][value='server']").is_checked()


def test_a_failed_forecast_is_told_in_the_forecast_section(page: Any, site: LiveServer) -> None:
    from coincast.api import Forecaster, load_history, save

    _open(page, site)
    history = load_history("bitcoin", site.settings).iloc[-200:]
    fc = Forecaster("paper", epochs=1, window=10, units=(4,))
    fc.fit(history, coin="bitcoin")
    save(fc, site.app.state.services.registry, "local", "btc-gone")
    page.click("#library-refresh")
    page.locator("#library-table tr[data-model='btc-gone'] button.load").click()
    page.wait_for_selector("#forecast[data-state='ready']")
    # The version disappears (another tab deleted it): the next forecast fails, and the
    # forecast section says so where the person pressed Forecast.
    req = urllib.request.Request(
        _url(site) + "/api/v1/users/local/models/btc-gone/versions/1", method="DELETE"
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        assert response.status in (200, 204)
    page.click("#forecast-run")
    page.wait_for_selector("#forecast[data-state='error']")
    box = page.locator("#forecast-error")
    assert box.is_visible()
    assert box.inner_text().startswith("Model not found.") and "btc-gone" in box.inner_text()
    assert page.locator("#train-error").count() == 0  # not in the training section
    assert page.locator("#banner-title").inner_text() == "Model not found."
