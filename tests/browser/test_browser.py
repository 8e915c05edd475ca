"""The beacon in a real headless Chromium, against the local twin over HTTP.

The host pages come from a second origin (a tiny http.server on another port), as on a real blog. The browser uses a
normal desktop User-Agent, because headless Chromium's own UA (HeadlessChrome) is a bot and must not be counted; one
test checks exactly that.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.browser.conftest import desktop, stats, wait_for, watch
from tests.builders import DESKTOP_UA
from tests.conftest import RunningTwin, start_twin, stop_twin

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.xdist_group("browser")]
# The host pages are served from 127.0.0.1, so the beacon counts them for that site (the page's hostname, as ?site=).
ON_SITE = "?site=127.0.0.1"


@pytest.fixture(scope="module")
def twin(module_running_twin: RunningTwin) -> RunningTwin:
    return module_running_twin


class HostSite:
    """A second origin (a blog) that serves whatever pages a test registers."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                raw = (body or "not found").encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def article(self, path: str, api: str, slug: str | None) -> str:
        data_slug = f' data-slug="{html.escape(slug)}"' if slug else ""
        self.pages[path] = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>post</title>
<link rel="icon" href="data:,"><script src="{api}/beacon.js"{data_slug} defer></script></head>
<body><h1>A post</h1><p>Read <span data-hitstream="hits">…</span> times,
by <span data-hitstream="visitors">…</span> visitors.</p>
<button type="button" data-hitstream-like>Like (<span data-hitstream="likes">…</span>)</button></body></html>"""
        return self.url + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def host() -> Iterator[HostSite]:
    site = HostSite()
    try:
        yield site
    finally:
        site.close()


# ---------------------------------------------------------------- beacon


def test_beacon_counts_once_fills_counters_and_likes(browser: Any, twin: RunningTwin, host: HostSite) -> None:
    from playwright.sync_api import expect

    url = host.article("/post.html", twin.url, "browser-test")
    ctx = desktop(browser)
    page = ctx.new_page()
    errors, posts = watch(page)
    page.goto(url)

    after = wait_for(lambda: stats(twin, "/statistics/browser-test" + ON_SITE), lambda s: s["hits"] >= 1)
    assert after["hits"] == 1, after
    assert posts == [f"{twin.url}/statistics/browser-test/hits" + ON_SITE], (
        "exactly one hit is sent, to the script's origin"
    )

    hits = page.locator('[data-hitstream="hits"]')
    expect(hits).to_have_text("1", timeout=6000)  # the beacon refills once its own hit is counted
    # The counts come with the hit's answer and predate it: hits shows one more, visitors as counted before this view.
    expect(page.locator('[data-hitstream="visitors"]')).to_have_text("0")
    expect(page.locator('[data-hitstream="likes"]')).to_have_text("0")
    assert stats(twin, "/statistics/browser-test" + ON_SITE)["hits"] == 1, "the hit stays counted once"

    like = page.locator("[data-hitstream-like]")
    expect(like).to_have_attribute("aria-pressed", "false")
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(page.locator('[data-hitstream="likes"]')).to_have_text("1")  # optimistic at once, then confirmed
    liked = wait_for(lambda: stats(twin, "/statistics/browser-test" + ON_SITE), lambda s: s["likes"] >= 1)
    assert liked["likes"] == 1, liked
    like.click()  # already liked: no second request
    like.press("Enter")
    assert posts.count(f"{twin.url}/statistics/browser-test/likes" + ON_SITE) == 1
    assert stats(twin, "/statistics/browser-test" + ON_SITE) == {
        "slug": "browser-test",
        "hits": 1,
        "visitors": 1,
        "likes": 1,
    }

    # Liked state survives a reload (same visitor, same day); the reload is a second page view.
    page.reload()
    expect(page.locator("[data-hitstream-like]")).to_have_attribute("aria-pressed", "true")
    assert wait_for(lambda: stats(twin, "/statistics/browser-test" + ON_SITE)["hits"], lambda h: h >= 2) == 2
    assert not errors, errors
    ctx.close()


def test_headless_user_agent_is_a_bot_and_not_counted(browser: Any, twin: RunningTwin, host: HostSite) -> None:
    url = host.article("/headless.html", twin.url, "headless-test")
    ctx = browser.new_context()  # Chromium's own headless UA
    page = ctx.new_page()
    _, posts = watch(page)
    with page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith("/statistics/headless-test/hits" + ON_SITE)
    ):
        page.goto(url)
    assert "HeadlessChrome" in page.evaluate("navigator.userAgent")
    # A desktop hit sent after the headless one is our fence: once it shows, the headless one had its chance.
    status, _, _ = twin.request(
        "POST", "/statistics/fence/hits" + ON_SITE, b"{}", {"content-type": "text/plain", "user-agent": DESKTOP_UA}
    )
    assert status == 202
    assert wait_for(lambda: stats(twin, "/statistics/fence" + ON_SITE)["hits"], lambda h: h >= 1) == 1
    assert stats(twin, "/statistics/headless-test" + ON_SITE) == {
        "slug": "headless-test",
        "hits": 0,
        "visitors": 0,
        "likes": 0,
    }
    assert posts == [f"{twin.url}/statistics/headless-test/hits" + ON_SITE]
    ctx.close()


def test_owner_opt_out_sends_nothing_but_still_shows_counts(browser: Any, twin: RunningTwin, host: HostSite) -> None:
    from playwright.sync_api import expect

    url = host.article("/mine.html", twin.url, None)  # no data-slug: derived from the path
    ctx = desktop(browser)
    ctx.add_init_script("localStorage.setItem('hitstream:ignore', '1')")
    page = ctx.new_page()
    errors, posts = watch(page)
    page.goto(url)
    expect(page.locator('[data-hitstream="hits"]')).to_have_text("0")  # the counter is still filled
    page.locator("[data-hitstream-like]").click()
    page.wait_for_timeout(300)
    assert posts == [], "an opted-out owner sends neither hits nor likes"
    assert stats(twin, "/statistics/mine.html" + ON_SITE)["hits"] == 0
    assert not errors, errors
    ctx.close()


# ---------------------------------------------------------------- CORS


def test_cors_refuses_reads_from_origins_not_on_the_allow_list(browser: Any, host: HostSite) -> None:
    from playwright.sync_api import expect

    twin = start_twin(env={"ALLOWED_ORIGINS": "http://allowed.example"})
    try:
        _, _, allowed = twin.request("GET", "/statistics", headers={"Origin": "http://allowed.example"})
        assert allowed.get("access-control-allow-origin") == "http://allowed.example"
        _, _, refused = twin.request("GET", "/statistics", headers={"Origin": host.url})
        assert "access-control-allow-origin" not in refused

        url = host.article("/cors.html", twin.url, "cors-test")
        ctx = desktop(browser)
        page = ctx.new_page()
        page.goto(url)
        outcome = page.evaluate(
            """async (api) => {
                try { await (await fetch(api + "/statistics/cors-test")).json(); return "read"; }
                catch (e) { return "refused: " + e.name; }
            }""",
            twin.url,
        )
        assert outcome == "refused: TypeError"
        page.wait_for_timeout(500)
        expect(page.locator('[data-hitstream="hits"]')).to_have_text("…")  # the beacon could not read either
        ctx.close()
    finally:
        stop_twin(twin)
