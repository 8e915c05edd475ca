"""The beacon's size budget, and the dashboard's offline / strict-CSP rules, checked without a browser."""

from __future__ import annotations

import base64
import gzip
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.builders import get
from tests.conftest import ROOT, Twin
from tests.jsmin import minify

STATIC = ROOT / "functions" / "hitstream" / "static"
BEACON_BUDGET = 2048  # bytes, as served (uncompressed)


def test_served_beacon_is_the_committed_minified_source(tmp_path: Path) -> None:
    """beacon.min.js is what `make beacon` makes from beacon.js now: nobody edits one and forgets the other."""
    small = (STATIC / "beacon.min.js").read_text()
    assert small == minify((STATIC / "beacon.js").read_text()), "run `make beacon` to regenerate beacon.min.js"
    assert "\n" not in small and "/*" not in small
    node = shutil.which("node")
    if node:  # the minified text must still be valid JavaScript
        out = tmp_path / "beacon.min.js"
        out.write_text(small)
        subprocess.run([node, "--check", str(out)], check=True, capture_output=True)


def test_get_beacon_serves_at_most_2_kb_and_gzip_when_accepted(twin: Twin) -> None:
    committed = (STATIC / "beacon.min.js").read_bytes()
    plain = twin.backend.invoke("query", get("/beacon.js"))
    headers = {k.lower(): v for k, v in plain["headers"].items()}
    assert plain["statusCode"] == 200 and not plain.get("isBase64Encoded")
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert "content-encoding" not in headers and headers["vary"] == "Accept-Encoding"
    served = plain["body"].encode()
    assert served == committed
    assert len(served) <= BEACON_BUDGET, f"GET /beacon.js serves {len(served)} bytes; the budget is {BEACON_BUDGET}"

    packed = twin.backend.invoke("query", get("/beacon.js", headers={"accept-encoding": "gzip, deflate, br"}))
    headers = {k.lower(): v for k, v in packed["headers"].items()}
    assert packed["statusCode"] == 200 and packed["isBase64Encoded"] is True
    assert headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding"
    wire = base64.b64decode(packed["body"])
    assert gzip.decompress(wire) == committed
    print(f"GET /beacon.js: {len(served)} bytes, {len(wire)} gzipped")  # the README quotes these


def test_beacon_source_keeps_its_promises() -> None:
    """What the README and the API contract say the beacon does, present in the source it is built from."""
    src = (STATIC / "beacon.js").read_text()
    for needle in (
        "navigator.sendBeacon",
        "keepalive: true",
        "referrer: d.referrer",
        '"utm_source", "utm_medium", "utm_campaign"',
        '"?site=" + encodeURIComponent(site)',
        'A("site") || l.hostname',
        "new URL(s.src, d.baseURI).origin",
        "b.counts = true",
        '"hitstream:ignore"',
        "[data-hitstream-like]",
    ):
        assert needle in src, needle


def test_minifier_keeps_strings_regexes_and_needed_spaces() -> None:
    src = 'var a = "x  // y", b = /\\/+|[/]/g; // gone\n/* gone */ return typeof a + +b - -1;'
    assert minify(src) == 'var a="x  // y",b=/\\/+|[/]/g;return typeof a+ +b- -1;'
    assert minify("function f() { return 1; }") == "function f(){return 1}"


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.style_blocks = 0
        self.inline_attrs: list[str] = []
        self.urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in a:
            if name == "style" or name.startswith("on"):
                self.inline_attrs.append(f"<{tag} {name}>")
        if tag == "script":
            self._in_script = True
            src = a.get("src")
            if src:
                self.urls.append(src)
        if tag == "style":
            self.style_blocks += 1
        href = a.get("href")
        if tag == "link" and a.get("rel") == "stylesheet" and href:
            self.urls.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


def test_dashboard_html_runs_under_a_strict_csp_and_offline() -> None:
    page = Page()
    page.feed((STATIC / "dashboard.html").read_text())
    assert page.inline_scripts == 0 and page.style_blocks == 0 and page.inline_attrs == []
    assert page.urls, "the dashboard loads its assets"
    for url in page.urls:
        assert re.fullmatch(r"static/[\w.-]+", url), f"{url}: assets must be relative (any base path, no CDN)"
        assert (STATIC / url.removeprefix("static/")).is_file(), url


def test_dashboard_js_uses_only_relative_api_urls() -> None:
    js = (STATIC / "dashboard.js").read_text()
    assert not re.search(r"https?://", js)
    assert not re.search(r"""["']/statistics""", js), "absolute paths would break under an API base path"


def test_vendored_uplot_matches_the_pinned_package() -> None:
    dist = ROOT / "node_modules" / "uplot" / "dist"
    if not dist.is_dir():
        pytest.skip("node_modules/uplot not installed (npm ci)")
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        assert (STATIC / name).read_bytes() == (dist / name).read_bytes(), f"run `make vendor` to refresh {name}"


def test_dashboard_assets_are_served_with_a_csp(twin: Twin) -> None:
    status, _, headers = twin.call("query", get("/"))
    assert status == 200
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "connect-src 'self'" in csp
    for name, kind in (
        ("dashboard.js", "text/javascript"),
        ("dashboard.css", "text/css"),
        ("uPlot.iife.min.js", "text/javascript"),
        ("uPlot.min.css", "text/css"),
    ):
        status, _, headers = twin.call("query", get(f"/static/{name}"))
        assert status == 200 and headers["content-type"].startswith(kind), name
    status, body, _ = twin.call("query", get("/static/..%2Fconfig.py"))
    assert status == 404, body
