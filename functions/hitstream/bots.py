"""Bot detection from the maintained crawler-user-agents list (vendored at the pinned version)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

# Headless browsers and automation stacks the crawler list does not name as such.
_EXTRA = r"HeadlessChrome|PhantomJS|Puppeteer|Playwright|Selenium|Lighthouse|python-requests|python-urllib|aiohttp|httpx|Go-http-client|okhttp|libwww|node-fetch|axios|undici|curl|wget"


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    entries = json.loads((Path(__file__).parent / "crawler-user-agents.json").read_text())
    return re.compile("|".join([e["pattern"] for e in entries] + [_EXTRA]), re.IGNORECASE)


def is_bot(user_agent: str | None) -> bool:
    if not user_agent or not user_agent.strip():
        return True
    return _pattern().search(user_agent) is not None
