"""The page on a phone (390 px, touch, mobile emulation): nothing wider than the screen,
tables scroll inside their card, targets big enough for a finger, and a tap on Train
starts a server job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.live_server import LiveServer, serve

pytestmark = pytest.mark.usefixtures("one_thread")

SHOTS = Path("/tmp/page-shots")

# Elements sticking out past the viewport's right edge (the page would scroll sideways),
# ignoring those inside a scrolling box that clips them (a table in its card).
_OVERFLOW = """() => {
  const vw = window.innerWidth;
  const clipped = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden')
        return p.getBoundingClientRect().right <= vw + 0.5;
    }
    return false;
  };
  return [...document.querySelectorAll('body *')].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.right > vw + 0.5 && !clipped(el);
  }).map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`).slice(0, 10);
}"""

# Visible buttons, inputs, selects and table rows one taps, smaller than 44 px high.
_SMALL_TARGETS = """() => [...document.querySelectorAll(
    'button, select, input:not([type=checkbox]):not([type=radio]), label.radio, label.toggle,'
    + '#coin-table tbody tr')]
  .filter((el) => el.offsetParent !== null)
  .map((el) => [el.id || el.textContent.trim().slice(0, 20), el.getBoundingClientRect().height])
  .filter(([, h]) => h < 44)"""


def _save_small_model(server: LiveServer) -> None:
    from coincast.api import Forecaster, load_history, save

    history = load_history("bitcoin", server.settings).iloc[-200:]
    fc = Forecaster("paper", epochs=1, window=10, units=(4,))
    fc.fit(history, coin="bitcoin")
    save(fc, server.app.state.services.registry, "local", "a-rather-long-model-name-v")


@pytest.fixture
def site(fake_coingecko: Any, tmp_path: Path) -> Iterator[LiveServer]:
    settings = fake_coingecko.settings(tmp_path / "data", max_retries=1, backoff_max=0.2)
    with serve(settings) as server:
        yield server


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=2,
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def _width(page: Any) -> tuple[int, int]:
    return page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")


@pytest.mark.parametrize("width", [360, 390, 414])
def test_no_section_is_wider_than_a_phone(phone: Any, site: LiveServer, width: int) -> None:
    phone.set_viewport_size({"width": width, "height": 844})
    phone.goto(site.url + "/#coin=bitcoin")
    phone.wait_for_selector("body[data-ready='true']")
    phone.wait_for_selector("#history[data-state='ready']")
    if width == 390:
        _save_small_model(site)
        phone.tap("#library-refresh")
        phone.wait_for_selector("#library-table tbody tr[data-model]")
        phone.locator("#library-table tbody tr[data-model] button.load").first.tap()
        phone.wait_for_selector("#forecast[data-state='ready']")
    for section in ["coins", "history", "train", "forecast", "library"]:
        phone.locator(f"#{section}").scroll_into_view_if_needed()
        scroll, inner = _width(phone)
        assert scroll <= inner, (section, scroll, inner, phone.evaluate(_OVERFLOW))
        box = phone.locator(f"#{section}").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= inner + 0.5, (section, box)
    # The Preset select fits its card; tables scroll inside theirs.
    select, card = phone.locator("#preset").bounding_box(), phone.locator("#train").bounding_box()
    assert select["x"] + select["width"] <= card["x"] + card["width"], (select, card)
    assert phone.evaluate(_SMALL_TARGETS) == []
    if width == 390:
        phone.screenshot(path=str(SHOTS / "phone-390.png"), full_page=True)


def test_a_tap_on_train_starts_a_server_job(phone: Any, site: LiveServer) -> None:
    phone.goto(site.url + "/")
    phone.wait_for_selector("body[data-ready='true']")
    phone.locator("#coin-search").tap()
    phone.fill("#coin-search", "bitcoin")
    phone.locator("#coin-table tr[data-coin='bitcoin']").tap()
    phone.wait_for_selector("#history[data-state='ready']")
    phone.fill("#hp-epochs", "1")
    phone.fill("#hp-window", "10")
    phone.fill("#hp-units", "4")
    phone.locator("#train-start").tap()
    phone.wait_for_selector("#train[data-state='running'], #progress[data-state='done']")
    with site.client() as client:
        jobs = client.get("/users/local/jobs").json()["jobs"]
    assert [j["coin"] for j in jobs] == ["bitcoin"]
    phone.wait_for_selector("#progress[data-state='done']", timeout=120_000)
