"""The page on its own: shell renders and says so when the API cannot be reached."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import offline_api


def test_shell_renders_and_banner_explains_unreachable_api(
    page: Any, static_site: str, screenshot: Any
) -> None:
    # Every API request but the presets fails at the network level, as when the server
    # has stopped.
    offline_api(page)
    page.goto(static_site + "/")
    page.wait_for_selector("body[data-ready='true']")

    for section in ("#coins", "#history", "#train", "#forecast", "#library"):
        assert page.locator(section).is_visible()
    banner = page.locator("#banner")
    assert banner.is_visible()
    assert "unreachable" in page.locator("#banner-title").inner_text().lower()
    assert "coincast serve" in page.locator("#banner-text").inner_text()
    assert page.locator("#who").inner_text() == "Not signed in"
    assert page.locator("#coin-table tbody tr").count() == 0
    # Hyperparameter fields carry the default preset's values and explanations.
    assert page.locator("#hp-window").input_value() == "30"
    assert page.locator("#hp-epochs").input_value() == "50"
    assert "past days" in page.locator("label:has(#hp-window) small").inner_text()
    # Credit and disclaimer are on the page before any forecast is made.
    assert "Data provided by CoinGecko" in page.locator(".credit").inner_text()
    assert "not financial advice" in page.locator("#disclaimer").inner_text()
    screenshot(page, "unreachable")
    # The failures are shown in the page, not thrown: no uncaught exceptions.
    assert not [e for e in page.console_errors if "Uncaught" in e or "TypeError" in e]


def test_preset_switch_changes_defaults(page: Any, static_site: str) -> None:
    offline_api(page)
    page.goto(static_site + "/")
    page.wait_for_selector("body[data-ready='true']")
    page.select_option("#preset", "deep")
    assert page.locator("#hp-units").input_value() == "64, 32"
    assert page.locator("#hp-patience").input_value() == "10"
    # Browser training is the paper model only: preset locked, deep-only fields disabled.
    page.check("input[name='where'][value='browser']")
    assert page.locator("#preset").input_value() == "paper"
    assert page.locator("#preset").is_disabled()
    assert page.locator("#hp-dropout").is_disabled()
    assert "Pick a coin first" in page.locator("#train-estimate").inner_text()
