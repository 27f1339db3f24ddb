"""Real headless Chromium (Debian's, never a Playwright download) driving the web page.

Screenshots of the main screens go to ``test-artifacts/web/`` (git-ignored) for people to
look at; tests never compare pixels against stored images.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
WEB_DIR = Path(__file__).resolve().parents[2] / "src" / "coincast" / "web"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (`apt-get install chromium`)")
    if not (WEB_DIR / "vendor" / "uPlot.iife.min.js").exists():
        pytest.skip("web vendor files missing: run `make vendor` (copies uPlot and TF.js from npm)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh context per test (own localStorage); console errors are collected."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.console_errors = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda msg: msg.type == "error" and page.console_errors.append(msg.text),
    )
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """Save a full-page screenshot as test-artifacts/web/NAME.png."""

    def save(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def static_site() -> Iterator[str]:
    """Only the page's static files, no API: what a person sees when the server is gone."""
    handler = functools.partial(_Quiet, directory=str(WEB_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def offline_api(page: Any) -> None:
    """Every API request fails at the network level, as when the server has stopped,
    except ``GET /api/v1/presets``: answered with what the server sends (built from the
    library), since the form has no presets of its own to show without it."""
    from coincast.server.routes.presets import presets_out

    body = presets_out().model_dump_json()

    def handle(route: Any) -> None:
        if route.request.url.split("?")[0].endswith("/api/v1/presets"):
            route.fulfill(status=200, content_type="application/json", body=body)
        else:
            route.abort("connectionrefused")

    page.route("**/api/v1/**", handle)


@pytest.fixture
def coincast_site(fake_coingecko: Any, tmp_path: Path) -> Iterator[str]:
    """The real app in uvicorn on 127.0.0.1:0, its CoinGecko the loopback fake.

    Retries are few and short so an injected 429 reaches the page in well under a second.
    """
    settings = fake_coingecko.settings(tmp_path / "data", max_retries=1, backoff_max=0.2)
    with serve(settings) as url:
        yield url


@contextlib.contextmanager
def serve(settings: Any) -> Iterator[str]:
    """The server developer's live server (uvicorn, loopback: local mode) → its base URL."""
    from tests.helpers.live_server import serve as live

    with live(settings) as server:
        yield server.url.rstrip("/")
