"""Regenerates the README's dashboard screenshots from demo data: `UPDATE_SCREENSHOTS=1 make test` (or pytest this file).

Skipped otherwise: screenshots are documentation, not assertions. The twin runs with HITSTREAM_DEMO=1 and two sites,
opened from the address it prints, at a desktop and a phone size.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from tests.browser.conftest import desktop, wait_for, watch
from tests.conftest import ROOT, start_twin, stop_twin

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not os.environ.get("UPDATE_SCREENSHOTS"), reason="set UPDATE_SCREENSHOTS=1 to regenerate"),
]
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def test_capture_dashboard_screenshots(browser: Any) -> None:
    twin = start_twin(
        {"HITSTREAM_DEMO": "1", "SITES": "blog.example.com,docs.example.com", "HITSTREAM_DASHBOARD": "private"}
    )
    try:
        out = wait_for(twin.output, lambda o: "demo: seeded" in o, timeout=120)
        assert "demo: seeded" in out, out
        address = re.search(r"http://\S+/#token=\S+", out)
        assert address, out
        for name, viewport in SIZES.items():
            phone = name == "phone"
            ctx = desktop(browser, viewport=viewport, is_mobile=phone, has_touch=phone, color_scheme="light")
            page = ctx.new_page()
            errors, _ = watch(page)
            page.goto(address.group(0))
            page.wait_for_selector("html[data-loaded]")
            page.wait_for_timeout(300)  # let the chart settle at its final width
            page.screenshot(path=str(ROOT / "docs" / f"dashboard-{name}.png"), full_page=True)
            assert not errors, errors
            ctx.close()
    finally:
        stop_twin(twin)
