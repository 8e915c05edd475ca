"""Browser fixtures: one headless Debian Chromium per test session (via playwright's executable_path) and helpers."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from tests.builders import DESKTOP_UA
from tests.conftest import RunningTwin

CHROMIUM = (
    shutil.which("chromium")
    or shutil.which("chromium-browser")
    or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
T = TypeVar("T")


def wait_for(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 5.0) -> T:
    """Poll fetch() until done(value) or the timeout; return the last value either way."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def stats(twin: RunningTwin, path: str, token: str | None = None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    status, body, _ = twin.request("GET", path, headers=headers)
    assert status == 200, body
    return body


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip(
            "!!! BROWSER TESTS SKIPPED: no chromium binary on PATH (nor /usr/bin/chromium). "
            "Install it with `bash scripts/ensure-chromium.sh` (Debian: apt-get install chromium). !!!"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="!!! BROWSER TESTS SKIPPED: playwright missing !!!")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def desktop(browser: Any, **kw: Any) -> Any:
    """A context with a normal desktop User-Agent (headless Chromium's own UA is a bot), in English and UTC."""
    return browser.new_context(**{"user_agent": DESKTOP_UA, "locale": "en-US", "timezone_id": "UTC", **kw})


def watch(page: Any) -> tuple[list[str], list[str]]:
    """Collect page errors and console errors (CSP violations included), and the URLs of POSTs the page makes."""
    errors: list[str] = []
    posts: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("request", lambda req: posts.append(req.url) if req.method == "POST" else None)
    return errors, posts
