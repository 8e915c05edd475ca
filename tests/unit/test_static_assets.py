"""The beacon's size budget, and the dashboard's offline / strict-CSP rules, checked without a browser."""

from __future__ import annotations

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
BEACON_BUDGET = 2048  # bytes, minified


def test_beacon_is_under_2_kb_minified(tmp_path: Path) -> None:
    small = minify((STATIC / "beacon.js").read_text()).encode()
    print(f"beacon.js: {len(small)} bytes minified, {len(gzip.compress(small, 9))} gzipped")
    assert len(small) < BEACON_BUDGET, f"beacon.js is {len(small)} bytes minified; the budget is {BEACON_BUDGET}"
    node = shutil.which("node")
    if node:  # the measured text must still be valid JavaScript
        out = tmp_path / "beacon.min.js"
        out.write_bytes(small)
        subprocess.run([node, "--check", str(out)], check=True, capture_output=True)


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
