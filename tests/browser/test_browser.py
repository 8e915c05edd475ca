"""The beacon and the dashboard in a real headless Chromium, against the local twin over HTTP.

The host pages come from a second origin (a tiny http.server on another port), as on a real blog. The browser uses a
normal desktop User-Agent, because headless Chromium's own UA (HeadlessChrome) is a bot and must not be counted; one
test checks exactly that.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.builders import DESKTOP_UA
from tests.conftest import ROOT, RunningTwin, start_twin, stop_twin

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.xdist_group("browser")]

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
SCREENSHOT = ROOT / "docs" / "dashboard.png"
T = TypeVar("T")


def wait_for(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 5.0) -> T:
    """Poll fetch() until done(value) or the timeout; return the last value either way."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def stats(twin: RunningTwin, path: str) -> dict[str, Any]:
    status, body, _ = twin.request("GET", path)
    assert status == 200, body
    return body


def digits(text: str | None) -> int:
    return int(re.sub(r"\D", "", text or "") or -1)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
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


def desktop(browser: Any, **kw: Any) -> Any:
    return browser.new_context(user_agent=DESKTOP_UA, locale="en-US", timezone_id="UTC", **kw)


def watch(page: Any) -> tuple[list[str], list[str]]:
    """Collect page errors and console errors, and the URLs of POSTs the page makes."""
    errors: list[str] = []
    posts: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("request", lambda req: posts.append(req.url) if req.method == "POST" else None)
    return errors, posts


# ---------------------------------------------------------------- beacon


def test_beacon_counts_once_fills_counters_and_likes(browser: Any, twin: RunningTwin, host: HostSite) -> None:
    from playwright.sync_api import expect

    url = host.article("/post.html", twin.url, "browser-test")
    ctx = desktop(browser)
    page = ctx.new_page()
    errors, posts = watch(page)
    page.goto(url)

    after = wait_for(lambda: stats(twin, "/statistics/browser-test"), lambda s: s["hits"] >= 1)
    assert after["hits"] == 1, after
    assert posts == [f"{twin.url}/statistics/browser-test/hits"], "exactly one hit is sent, to the script's origin"

    hits = page.locator('[data-hitstream="hits"]')
    expect(hits).to_have_text("1", timeout=6000)  # the beacon refills once its own hit is counted
    expect(page.locator('[data-hitstream="visitors"]')).to_have_text("1")
    expect(page.locator('[data-hitstream="likes"]')).to_have_text("0")
    assert stats(twin, "/statistics/browser-test")["hits"] == 1, "the hit stays counted once"

    like = page.locator("[data-hitstream-like]")
    expect(like).to_have_attribute("aria-pressed", "false")
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(page.locator('[data-hitstream="likes"]')).to_have_text("1")  # optimistic at once, then confirmed
    liked = wait_for(lambda: stats(twin, "/statistics/browser-test"), lambda s: s["likes"] >= 1)
    assert liked["likes"] == 1, liked
    like.click()  # already liked: no second request
    like.press("Enter")
    assert posts.count(f"{twin.url}/statistics/browser-test/likes") == 1
    assert stats(twin, "/statistics/browser-test") == {"slug": "browser-test", "hits": 1, "visitors": 1, "likes": 1}

    # Liked state survives a reload (same visitor, same day); the reload is a second page view.
    page.reload()
    expect(page.locator("[data-hitstream-like]")).to_have_attribute("aria-pressed", "true")
    assert wait_for(lambda: stats(twin, "/statistics/browser-test")["hits"], lambda h: h >= 2) == 2
    assert not errors, errors
    ctx.close()


def test_headless_user_agent_is_a_bot_and_not_counted(browser: Any, twin: RunningTwin, host: HostSite) -> None:
    url = host.article("/headless.html", twin.url, "headless-test")
    ctx = browser.new_context()  # Chromium's own headless UA
    page = ctx.new_page()
    _, posts = watch(page)
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/statistics/headless-test/hits")):
        page.goto(url)
    assert "HeadlessChrome" in page.evaluate("navigator.userAgent")
    # A desktop hit sent after the headless one is our fence: once it shows, the headless one had its chance.
    status, _, _ = twin.request(
        "POST", "/statistics/fence/hits", b"{}", {"content-type": "text/plain", "user-agent": DESKTOP_UA}
    )
    assert status == 202
    assert wait_for(lambda: stats(twin, "/statistics/fence")["hits"], lambda h: h >= 1) == 1
    assert stats(twin, "/statistics/headless-test") == {"slug": "headless-test", "hits": 0, "visitors": 0, "likes": 0}
    assert posts == [f"{twin.url}/statistics/headless-test/hits"]
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
    assert stats(twin, "/statistics/mine.html")["hits"] == 0
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


# ---------------------------------------------------------------- dashboard


def visitor_ua(n: int) -> str:
    return DESKTOP_UA.replace("Chrome/131.0.0.0", f"Chrome/131.0.{n}.0")


# (slug, visitor) for each hit and each like; the visitor id is a hash of IP (always 127.0.0.1 here) + User-Agent.
HITS = [("alpha", 1), ("alpha", 1), ("alpha", 1), ("alpha", 2), ("alpha", 3), ("beta", 1), ("beta", 1), ("beta", 4),
        ("gamma", 5)]  # fmt: skip
LIKES = [("alpha", 1), ("alpha", 2), ("alpha", 1), ("beta", 4)]  # alpha/1 twice: a like counts once per visitor-day
EXPECTED_SITE = {"hits": 9, "visitors": 5, "likes": 3, "articles": 3}
EXPECTED_TOP = [("alpha", 5, 3, 2), ("beta", 3, 2, 1), ("gamma", 1, 1, 0)]


@pytest.fixture(scope="module")
def seeded() -> Iterator[RunningTwin]:
    t = start_twin()
    try:
        for kind, rows in (("hits", HITS), ("likes", LIKES)):
            for slug, who in rows:
                headers = {"content-type": "text/plain", "user-agent": visitor_ua(who)}
                status, _, _ = t.request("POST", f"/statistics/{slug}/{kind}", b"{}", headers)
                assert status == 202
        site = wait_for(lambda: stats(t, "/statistics"), lambda s: s["hits"] >= 9 and s["likes"] >= 3)
        assert site == EXPECTED_SITE
        yield t
    finally:
        stop_twin(t)


def open_dashboard(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("html[data-loaded]")


def chart_days(page: Any, fewest: int, most: int) -> None:
    """Wait until the site chart shows between fewest and most days."""
    page.wait_for_function(
        "([lo, hi]) => { const c = hitstreamDashboard.charts.site; const n = c && c.data[0].length;"
        " return n >= lo && n <= hi; }",
        arg=[fewest, most],
        timeout=5000,
    )


def test_dashboard_shows_the_known_numbers(browser: Any, seeded: RunningTwin, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    ctx = desktop(browser, viewport={"width": 1100, "height": 900})
    page = ctx.new_page()
    errors, _ = watch(page)
    response = page.goto(seeded.url + "/")
    assert response is not None
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    page.wait_for_selector("html[data-loaded]")

    for key, value in EXPECTED_SITE.items():
        expect(page.locator(f'#totals [data-stat="{key}"]')).to_have_text(str(value))
    assert page.locator("#site-chart canvas").count() == 1
    chart = page.evaluate("hitstreamDashboard.charts.site.data")
    assert len(chart[0]) == 30, "the default period is 30 days, one point per day"
    assert (sum(chart[1]), sum(chart[2])) == (9, 5)
    assert (chart[1][-1], chart[2][-1]) == (9, 5), "all hits are today's (UTC)"

    rows = page.locator("#top tbody tr")
    expect(rows).to_have_count(3)
    for i, (slug, hits, visitors, likes) in enumerate(EXPECTED_TOP):
        cells = rows.nth(i)
        expect(cells.locator("th")).to_have_text(slug)
        assert [digits(cells.locator(f'[data-stat="{k}"]').text_content()) for k in ("hits", "visitors", "likes")] == [
            hits, visitors, likes,
        ]  # fmt: skip
    assert page.locator("#top thead th[scope=col]").count() == 5

    (tmp_path / "dashboard.png").write_bytes(page.screenshot(full_page=True))
    if os.environ.get("UPDATE_SCREENSHOT") or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Drill down with the keyboard: focus moves to the article, Escape returns it to the row.
    beta = page.locator('#top button[data-slug="beta"]')
    beta.focus()
    page.keyboard.press("Enter")
    article = page.locator("#article")
    expect(article).to_be_visible()
    expect(article).to_be_focused()
    expect(page.locator("#article-title")).to_have_text("Article: beta")
    for key, value in {"hits": 3, "visitors": 2, "likes": 1}.items():
        expect(page.locator(f'#article-totals [data-stat="{key}"]')).to_have_text(str(value))
    expect(page.locator("#article-chart canvas")).to_have_count(1)
    assert "article=beta" in page.url
    page.keyboard.press("Escape")
    expect(article).to_be_hidden()
    expect(page.locator('#top button[data-slug="beta"]')).to_be_focused()

    # An article outside the table, by slug.
    page.fill("#slug", "alpha")
    page.keyboard.press("Enter")
    for key, value in {"hits": 5, "visitors": 3, "likes": 2}.items():
        expect(page.locator(f'#article-totals [data-stat="{key}"]')).to_have_text(str(value))
    assert sum(page.evaluate("hitstreamDashboard.charts.article.data")[1]) == 5

    # Range presets: day counts follow, and 12 months stays within the API's 366-day limit.
    for label, fewest, most in (("7 days", 7, 7), ("12 months", 365, 366)):
        page.get_by_text(label, exact=True).click()  # the label, as a user would
        chart_days(page, fewest, most)
        expect(page.locator('#totals [data-stat="hits"]')).to_have_text("9")

    # Custom: a bad range is refused in the page, a good one is loaded.
    page.get_by_text("Custom", exact=True).click()
    page.fill("#from", "2026-02-10")
    page.fill("#to", "2026-02-01")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#range-error")).to_contain_text("on or before")
    page.fill("#from", "2026-01-01")
    page.fill("#to", "2026-01-10")
    page.get_by_role("button", name="Apply").click()
    chart_days(page, 10, 10)
    expect(page.locator("#range-error")).to_have_text("")
    assert "from=2026-01-01" in page.url and "to=2026-01-10" in page.url

    assert not errors, errors  # includes any Content-Security-Policy violation
    ctx.close()


def test_dashboard_fits_a_phone(browser: Any, seeded: RunningTwin) -> None:
    from playwright.sync_api import expect

    ctx = desktop(browser, viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    open_dashboard(page, seeded.url + "/")
    expect(page.locator('#totals [data-stat="hits"]')).to_have_text("9")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "no sideways scrolling on a phone"
    width = page.evaluate("hitstreamDashboard.charts.site.width")
    assert 280 <= width <= 375
    ctx.close()


def test_dashboard_refreshes_every_30_s_and_keeps_numbers_on_errors(browser: Any, seeded: RunningTwin) -> None:
    from playwright.sync_api import expect

    replies = [
        (200, {"hits": 1, "visitors": 1, "likes": 0, "articles": 1, "daily": [], "top": []}),
        (200, {"hits": 2, "visitors": 2, "likes": 1, "articles": 1, "daily": [], "top": []}),
        (500, {"error": "boom"}),
    ]
    ctx = desktop(browser)
    page = ctx.new_page()
    page.clock.install()

    def answer(route: Any) -> None:
        status, body = replies.pop(0)
        route.fulfill(status=status, json=body)

    page.route(re.compile(r".*/statistics\?.*"), answer)
    open_dashboard(page, seeded.url + "/")
    hits = page.locator('#totals [data-stat="hits"]')
    expect(hits).to_have_text("1")
    expect(page.locator("#top tbody")).to_contain_text("No hits in this period yet.")
    page.clock.fast_forward(30_000)
    expect(hits).to_have_text("2")
    page.clock.fast_forward(30_000)
    expect(page.locator("#status")).to_contain_text("Could not load statistics: boom")
    expect(hits).to_have_text("2")  # the last good numbers stay on screen
    ctx.close()
