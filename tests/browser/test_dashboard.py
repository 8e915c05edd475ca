"""The dashboard in a real headless Chromium against one private twin serving two sites.

The twin is started as a user starts it (no HITSTREAM_TOKEN: it makes a token and prints the dashboard address
`http://HOST:PORT/#token=...`), and the tests open that printed address. Hits are posted over HTTP with chosen
User-Agents, referrers and utm fields, so every number the dashboard shows is known here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import desktop, stats, wait_for, watch
from tests.conftest import RunningTwin, start_twin, stop_twin

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.xdist_group("browser")]

BLOG, DOCS = "blog.example.com", "docs.example.com"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Mobile Safari/537.36"
)
# (site, slug, user agent, body) for each hit, in order; a visitor's first hit of the day sets its dimensions.
HITS = [
    (BLOG, "alpha", FIREFOX_WINDOWS, {"referrer": "https://news.ycombinator.com/item?id=1"}),
    (BLOG, "alpha", FIREFOX_WINDOWS, {"referrer": "https://blog.example.com/"}),
    (BLOG, "beta", FIREFOX_WINDOWS, {}),
    (BLOG, "alpha", IPHONE, {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"}),
    (BLOG, "gamma", CHROME_LINUX, {}),
    (BLOG, "alpha", CHROME_LINUX, {"referrer": "https://www.google.com/search?q=x"}),
    (BLOG, "beta", ANDROID, {"referrer": "https://www.google.com/"}),
    (DOCS, "intro", FIREFOX_WINDOWS, {"referrer": "https://blog.example.com/alpha"}),
    (DOCS, "intro", FIREFOX_WINDOWS, {}),
]
LIKES = [(BLOG, "alpha", FIREFOX_WINDOWS)]
TOTALS = {
    BLOG: {"hits": 7, "visitors": 4, "likes": 1, "articles": 3},
    DOCS: {"hits": 2, "visitors": 1, "likes": 0, "articles": 1},
}
TOP_BLOG = [("alpha", 4, 3, 1), ("beta", 2, 2, 0), ("gamma", 1, 1, 0)]
# (shown value, visitors, hits) per panel, in the API's order: visitors, then hits, descending, then value.
BREAKDOWN_BLOG = {
    "source": [
        ("news.ycombinator.com", 1, 3),
        ("Direct or unknown", 1, 2),
        ("google.com", 1, 1),
        ("newsletter", 1, 1),
    ],
    "campaign": [("No campaign", 3, 6), ("spring", 1, 1)],
    "country": [("Unknown", 4, 7)],
    "device": [("Desktop", 2, 5), ("Mobile", 2, 2)],
    "browser": [("Firefox", 1, 3), ("Chrome", 1, 2), ("Chrome Mobile", 1, 1), ("Mobile Safari", 1, 1)],
    "os": [("Windows", 1, 3), ("Linux", 1, 2), ("Android", 1, 1), ("iOS", 1, 1)],
}


class Seeded:
    def __init__(self, twin: RunningTwin, address: str, token: str) -> None:
        self.twin = twin
        self.address = address  # as printed by the twin: http://HOST:PORT/#token=...
        self.token = token
        self.url = twin.url


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    t = start_twin({"SITES": f"{BLOG},{DOCS}", "HITSTREAM_DASHBOARD": "private", "HITSTREAM_TOKEN": ""})
    try:
        printed = wait_for(t.output, lambda out: "#token=" in out)
        match = re.search(r"(http://\S+/)#token=(\S+)", printed)
        assert match, printed
        address, token = match.group(0), match.group(2)
        for kind, rows in (("hits", HITS), ("likes", [(s, a, ua, {}) for s, a, ua in LIKES])):
            for site, slug, ua, body in rows:
                status, reply, _ = t.request(
                    "POST",
                    f"/statistics/{slug}/{kind}?site={site}",
                    json.dumps(body).encode(),
                    {"content-type": "text/plain", "user-agent": ua},
                )
                assert status == 202, reply
        for site, expected in TOTALS.items():
            got = wait_for(lambda s=site: stats(t, f"/statistics?site={s}"), lambda b, e=expected: b == e)
            assert got == expected, site
        yield Seeded(t, address, token)
    finally:
        stop_twin(t)


def signed_in(browser: Any, seeded: Seeded, **kw: Any) -> Any:
    """A context whose dashboard already holds the token, as after opening the printed address once."""
    ctx = desktop(browser, **kw)
    ctx.add_init_script(f"localStorage.setItem('hitstream:token', {json.dumps(seeded.token)})")
    return ctx


def loaded(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("html[data-loaded]")


def cards(page: Any, container: str = "#totals") -> dict[str, int]:
    values = page.eval_on_selector_all(
        f"{container} dd[data-stat]", "els => els.map(e => [e.dataset.stat, e.textContent])"
    )
    return {k: int(re.sub(r"\D", "", v)) for k, v in values}


def panel_rows(page: Any, selector: str) -> list[tuple[str, int, int]]:
    rows = page.eval_on_selector_all(
        f"{selector} tbody tr[data-value]",
        """rows => rows.map(r => [r.querySelector('th .label').textContent,
            r.querySelector('[data-stat=visitors]').textContent, r.querySelector('[data-stat=hits]').textContent])""",
    )
    return [(label, int(v), int(h)) for label, v, h in rows]


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


# ---------------------------------------------------------------- access


def test_token_flow_from_the_printed_address(browser: Any, seeded: Seeded) -> None:
    from playwright.sync_api import expect

    ctx = desktop(browser)
    page = ctx.new_page()
    errors, _ = watch(page)
    auth_headers: list[str | None] = []
    page.on(
        "request",
        lambda r: (
            auth_headers.append(r.headers.get("authorization")) if "from=" in r.url or "/sites" in r.url else None
        ),
    )

    # Without a token: a sign-in form, not broken numbers.
    page.goto(seeded.url + "/")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#data")).to_be_hidden()
    expect(page.locator("#status")).to_have_text("Sign-in needed")
    expect(page.locator("#sign-out")).to_be_hidden()

    # The printed address: the token moves to localStorage and leaves the address bar.
    auth_headers.clear()
    page.goto(seeded.address)
    page.wait_for_selector("html[data-loaded]")
    expect(page.locator("#data")).to_be_visible()
    expect(page.locator("#signin")).to_be_hidden()
    assert "token" not in page.url and seeded.token not in page.url, page.url
    assert page.evaluate("localStorage.getItem('hitstream:token')") == seeded.token
    assert cards(page) == TOTALS[BLOG]
    assert auth_headers and all(h == f"Bearer {seeded.token}" for h in auth_headers), auth_headers

    # It stays signed in across a reload, then "Sign out" forgets the token.
    loaded(page, seeded.url + "/")
    assert cards(page) == TOTALS[BLOG]
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#data")).to_be_hidden()
    assert page.evaluate("localStorage.getItem('hitstream:token')") is None

    # A wrong token is refused with a clear message; pasting the right one signs in.
    page.fill("#token", "not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-why")).to_contain_text("refused")
    page.fill("#token", seeded.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#data")).to_be_visible()
    expect(page.locator('#totals [data-stat="hits"]')).to_have_text("7")
    assert page.evaluate("localStorage.getItem('hitstream:token')") == seeded.token
    assert not [e for e in errors if "401" not in e], errors  # the refused reads log a 401 in the console; nothing else
    ctx.close()


# ---------------------------------------------------------------- sites


def test_two_sites_counted_apart_with_switcher_and_overview(browser: Any, seeded: Seeded) -> None:
    from playwright.sync_api import expect

    ctx = signed_in(browser, seeded)
    page = ctx.new_page()
    errors, _ = watch(page)
    loaded(page, seeded.url + "/")
    assert "site=blog.example.com" in page.url, "the first configured site is the default"
    assert cards(page) == TOTALS[BLOG]
    assert page.eval_on_selector_all("#site option", "os => os.map(o => o.value)") == [BLOG, DOCS]

    # The overview: each site's all-time totals and a trend line over the period.
    overview = page.locator("#overview")
    expect(overview).to_be_visible()
    for site, expected in TOTALS.items():
        assert cards(page, f'#sites li[data-site="{site}"]') == expected
        expect(page.locator(f'#sites li[data-site="{site}"] svg.spark polyline')).to_have_count(1)
    expect(page.locator(f'#sites li[data-site="{DOCS}"] [data-stat="range-hits"]')).to_have_text("2 hits in the period")

    page.select_option("#site", DOCS)
    expect(page.locator('#totals [data-stat="hits"]')).to_have_text("2")
    assert cards(page) == TOTALS[DOCS]
    expect(page.locator("#top tbody th")).to_have_text(["intro"])
    assert "site=docs.example.com" in page.url
    assert panel_rows(page, '#breakdowns [data-dim="source"]') == [("blog.example.com", 1, 2)]

    # The chosen site and range come back from the address.
    page.get_by_text("7 days", exact=True).click()
    page.wait_for_function("location.hash.includes('range=7d')")
    loaded(page, page.url)
    expect(page.locator("#site")).to_have_value(DOCS)
    expect(page.locator("#p7")).to_be_checked()
    assert cards(page) == TOTALS[DOCS]

    # Choosing a site from the overview.
    page.locator(f'#sites button[data-site="{BLOG}"]').click()
    expect(page.locator('#totals [data-stat="hits"]')).to_have_text("7")
    expect(page.locator("#site")).to_have_value(BLOG)
    assert not errors, errors
    ctx.close()


# ---------------------------------------------------------------- breakdowns and drill-down


def test_breakdown_panels_and_article_sources(browser: Any, seeded: Seeded) -> None:
    from playwright.sync_api import expect

    ctx = signed_in(browser, seeded)
    page = ctx.new_page()
    errors, _ = watch(page)
    loaded(page, seeded.url + "/#site=blog.example.com&range=30d")
    for dim, expected in BREAKDOWN_BLOG.items():
        panel = f'#breakdowns [data-dim="{dim}"]'
        assert panel_rows(page, panel) == expected, dim
        # Accessible: a heading names the table, and the table has column headers.
        title = page.locator(f"{panel} h3")
        assert page.get_attribute(f"{panel} table", "aria-labelledby") == title.get_attribute("id")
        assert page.locator(f"{panel} thead th[scope=col]").count() == 3

    rows = page.locator("#top tbody tr")
    expect(rows).to_have_count(3)
    for i, (slug, hits, visitors, likes) in enumerate(TOP_BLOG):
        expect(rows.nth(i).locator("th")).to_have_text(slug)
        got = [int(rows.nth(i).locator(f'[data-stat="{k}"]').text_content()) for k in ("hits", "visitors", "likes")]
        assert got == [hits, visitors, likes], slug

    # Drill-down with the keyboard: the article's own numbers, series and sources; Escape returns focus.
    page.locator('#top button[data-slug="alpha"]').focus()
    page.keyboard.press("Enter")
    article = page.locator("#article")
    expect(article).to_be_focused()
    expect(page.locator("#article-title")).to_have_text("Article: alpha")
    expect(page.locator('#article-totals [data-stat="hits"]')).to_have_text("4")
    assert cards(page, "#article-totals") == {"hits": 4, "visitors": 3, "likes": 1}
    assert sum(page.evaluate("hitstreamDashboard.charts.article.data")[1]) == 4
    # alpha's readers: visitor 1 entered from HN (2 alpha hits), 2 from the newsletter, 3 directly (its 2nd hit).
    assert panel_rows(page, "#article-sources") == [
        ("news.ycombinator.com", 1, 2),
        ("Direct or unknown", 1, 1),
        ("newsletter", 1, 1),
    ]
    assert "article=alpha" in page.url
    page.keyboard.press("Escape")
    expect(article).to_be_hidden()
    expect(page.locator('#top button[data-slug="alpha"]')).to_be_focused()
    assert not errors, errors
    ctx.close()


# ---------------------------------------------------------------- first hour: comparison, export, ranges


def test_comparison_with_the_previous_period(browser: Any, seeded: Seeded) -> None:
    from playwright.sync_api import expect

    ctx = signed_in(browser, seeded)
    page = ctx.new_page()
    loaded(page, seeded.url + "/#site=blog.example.com&range=7d")
    expect(page.locator('[data-delta="hits"] .pct')).to_have_text("new")  # nothing in the 7 days before
    expect(page.locator('[data-delta="hits"]')).to_contain_text("vs 0 in the previous 7 days")

    # Tomorrow against today (the previous period of one day): everything fell by 100%.
    tomorrow = (utc_today() + dt.timedelta(days=1)).isoformat()
    loaded(page, f"{seeded.url}/#site=blog.example.com&from={tomorrow}&to={tomorrow}")
    expect(page.locator('#totals [data-stat="hits"]')).to_have_text("0")
    for key, before in (("hits", 7), ("visitors", 4), ("likes", 1)):
        expect(page.locator(f'[data-delta="{key}"] .pct')).to_have_text("\u2212100%")
        expect(page.locator(f'[data-delta="{key}"]')).to_contain_text(f"vs {before} in the previous day")
    ctx.close()


def test_csv_export_of_what_is_on_screen(browser: Any, seeded: Seeded) -> None:
    ctx = signed_in(browser, seeded, accept_downloads=True)
    page = ctx.new_page()
    errors, _ = watch(page)
    loaded(page, seeded.url + "/#site=blog.example.com&range=7d&article=alpha")
    page.locator("#article-sources tbody tr").first.wait_for()
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    today, first = utc_today(), utc_today() - dt.timedelta(days=6)
    assert download.suggested_filename == f"hitstream-blog.example.com-{first}-to-{today}.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows[0] == ["table", "key", "hits", "visitors", "likes"]
    assert ["totals", f"{first} to {today}", "7", "4", "1"] in rows
    daily = [r for r in rows if r[0] == "daily"]
    assert len(daily) == 7 and daily[-1] == ["daily", str(today), "7", "4", "1"]
    assert [r[1:] for r in rows if r[0] == "top_articles"] == [[s, str(h), str(v), str(lk)] for s, h, v, lk in TOP_BLOG]
    assert [r[1:4] for r in rows if r[0] == "source"] == [
        ["news.ycombinator.com", "3", "1"],
        ["(direct)", "2", "1"],
        ["google.com", "1", "1"],
        ["newsletter", "1", "1"],
    ]
    assert ["campaign", "spring", "1", "1", ""] in rows
    assert ["country", "ZZ", "7", "4", ""] in rows
    assert len([r for r in rows if r[0] == "article_daily:alpha"]) == 7
    assert ["article_source:alpha", "newsletter", "1", "1", ""] in rows
    assert not errors, errors
    ctx.close()


def test_twelve_months_load_visibly_grouped_by_month_with_a_legend_at_rest(browser: Any, seeded: Seeded) -> None:
    from playwright.sync_api import expect

    ctx = signed_in(browser, seeded, viewport={"width": 1100, "height": 900})
    page = ctx.new_page()
    errors, _ = watch(page)
    loaded(page, seeded.url + "/#site=blog.example.com&range=30d")
    legend = page.locator("#site-legend")
    expect(legend).to_contain_text("7 hits")
    expect(legend).to_contain_text("4 daily visitors (summed)")

    # Hold the 12-month answer: while it is out, the old numbers are marked as loading, never as live.
    held: list[Any] = []
    page.route(re.compile(r".*/statistics\?.*top=10.*"), lambda route: held.append(route))
    page.get_by_text("12 months", exact=True).click()
    expect(page.locator("#status")).to_have_text(re.compile(r"^Loading last 12 months"))
    expect(page.locator("section[data-watch][aria-busy=true]")).not_to_have_count(0)
    expect(page.locator("#totals").locator("xpath=..")).to_have_class(re.compile(r"is-loading"))
    assert not page.locator("#status").text_content().startswith("Live")
    wait_for(lambda: len(held), lambda n: n >= 1)
    held[0].continue_()
    page.unroute(re.compile(r".*/statistics\?.*top=10.*"))
    expect(page.locator("#status")).to_have_text(re.compile(r"^Live"))
    expect(page.locator("section[data-watch][aria-busy=true]")).to_have_count(0)

    expect(page.locator("#chart-title")).to_have_text("Monthly hits and visitors")
    data = page.evaluate("hitstreamDashboard.charts.site.data")
    assert 12 <= len(data[0]) <= 13, "one point per calendar month touched by the last 12 months"
    assert (sum(data[1]), sum(data[2])) == (7, 4)
    assert (data[1][-1], data[2][-1]) == (7, 4), "all hits are in this month"
    # At rest the legend shows the period's totals, never a placeholder; over the chart it names the month.
    text = legend.text_content() or ""
    assert "7 hits" in text and "one point per month" in text
    assert "--" not in text and "\u2013" not in text
    box = page.locator("#site-chart .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    expect(legend).to_contain_text(utc_today().strftime("%B %Y"))
    page.mouse.move(0, 0)
    expect(legend).to_contain_text("one point per month")

    # About 90 days: one point per week.
    start = (utc_today() - dt.timedelta(days=89)).isoformat()
    loaded(page, f"{seeded.url}/#site=blog.example.com&from={start}&to={utc_today()}")
    expect(page.locator("#chart-title")).to_have_text("Weekly hits and visitors")
    assert 13 <= page.evaluate("hitstreamDashboard.charts.site.data[0].length") <= 14
    assert not errors, errors
    ctx.close()


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_fits_desktop_and_phone_without_sideways_scrolling(
    browser: Any, seeded: Seeded, width: int, height: int
) -> None:
    from playwright.sync_api import expect

    phone = width < 500
    ctx = signed_in(browser, seeded, viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone)
    page = ctx.new_page()
    errors, _ = watch(page)
    loaded(page, seeded.url + "/#site=blog.example.com&range=30d&article=alpha")
    expect(page.locator("#article-sources table")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "no sideways scrolling"
    assert 260 <= page.evaluate("hitstreamDashboard.charts.site.width") <= width
    for dim in BREAKDOWN_BLOG:
        box = page.locator(f'#breakdowns [data-dim="{dim}"]').bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, dim
    # Touch targets: the period buttons and the site picker are at least 44 px high.
    assert page.locator('label[for="p30"]').bounding_box()["height"] >= 44
    assert page.locator("#site").bounding_box()["height"] >= 44
    assert not errors, errors
    ctx.close()


def test_refreshes_every_30_s_and_keeps_the_last_good_numbers(browser: Any, seeded: Seeded) -> None:
    """Last in the module: it adds a hit to the docs site."""
    from playwright.sync_api import expect

    ctx = signed_in(browser, seeded)
    page = ctx.new_page()
    page.clock.install()
    loaded(page, seeded.url + "/#site=docs.example.com&range=7d")
    hits = page.locator('#totals [data-stat="hits"]')
    expect(hits).to_have_text("2")

    # A new hit shows at the next 30-second refresh.
    status, _, _ = seeded.twin.request(
        "POST", f"/statistics/intro/hits?site={DOCS}", b"{}", {"content-type": "text/plain", "user-agent": ANDROID}
    )
    assert status == 202
    wait_for(lambda: stats(seeded.twin, f"/statistics?site={DOCS}")["hits"], lambda h: h >= 3)
    page.clock.fast_forward(30_000)
    expect(hits).to_have_text("3")

    # The API fails: the numbers stay, and the status says so.
    page.route(re.compile(r".*/statistics\?.*"), lambda route: route.fulfill(status=500, json={"error": "boom"}))
    page.clock.fast_forward(30_000)
    expect(page.locator("#status")).to_contain_text("Could not load statistics: boom")
    expect(hits).to_have_text("3")
    ctx.close()
