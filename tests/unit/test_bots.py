"""Bots: every User-Agent of the maintained crawler list, automation clients and headless browsers, and a
missing or empty User-Agent, are accepted with 202 and count nothing. Real browsers count."""

from __future__ import annotations

import json
import random
from importlib import metadata
from pathlib import Path

import boto3
import crawleruseragents
import pytest
from hitstream import bots

from tests.builders import api_event, get, hit, like
from tests.conftest import ROOT, Twin

VENDORED = ROOT / "functions" / "hitstream" / "crawler-user-agents.json"
CRAWLER_UAS = sorted({ua for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA for ua in entry.get("instances", [])})

AUTOMATION_UAS = [
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.32.3",
    "Python-urllib/3.11",
    "python-httpx/0.27.0",
    "aiohttp/3.9.5",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "axios/1.7.2",
    "undici",
    "libwww-perl/6.77",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.6778.33 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
]
EMPTY_UAS = ["", " ", "\t"]

BROWSER_UAS = {
    "chrome-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "chrome-android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "firefox-linux": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "firefox-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "safari-macos": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "safari-iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
    "safari-ipad": "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.7 Mobile/15E148 Safari/604.1",
    "edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36 Edg/131.0.0.0",
    "samsung-internet": "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
}


@pytest.fixture(scope="module")
def twin(module_twin: Twin) -> Twin:
    return module_twin


def event_count(twin: Twin) -> int:
    return int(boto3.client("dynamodb").scan(TableName=twin.backend.settings.events_table, Select="COUNT")["Count"])


def test_vendored_list_is_the_pinned_package() -> None:
    installed = Path(crawleruseragents.__file__).parent / "crawler-user-agents.json"
    assert json.loads(VENDORED.read_text()) == json.loads(installed.read_text()), "run `make vendor`"
    pins = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line.startswith("crawler-user")]
    assert pins == [f"crawler-user-agents=={metadata.version('crawler-user-agents')}"]


def test_every_listed_crawler_is_a_bot() -> None:
    assert len(CRAWLER_UAS) > 1000
    missed = [ua for ua in CRAWLER_UAS if not bots.is_bot(ua)]
    assert missed == []


@pytest.mark.parametrize("ua", AUTOMATION_UAS + EMPTY_UAS + [None])
def test_automation_and_empty_user_agents_are_bots(ua: str | None) -> None:
    assert bots.is_bot(ua)


@pytest.mark.parametrize("ua", list(BROWSER_UAS.values()), ids=list(BROWSER_UAS))
def test_browsers_are_not_bots(ua: str) -> None:
    assert not bots.is_bot(ua)


def test_bots_get_202_and_count_nothing(twin: Twin) -> None:
    sample = random.Random(6).sample(CRAWLER_UAS, 150) + AUTOMATION_UAS + EMPTY_UAS
    before = event_count(twin)
    for ua in sample:
        assert twin.post(hit("bot-target", user_agent=ua)) == (202, {"accepted": True}), ua
        assert twin.post(like("bot-target", user_agent=ua)) == (202, {"accepted": True}), ua
    missing = api_event("POST", "/statistics/bot-target/hits", body="{}", user_agent=None)
    assert "user-agent" not in missing["headers"]
    assert twin.post(missing) == (202, {"accepted": True})
    twin.settle()
    assert event_count(twin) == before
    assert twin.get(get("/statistics/bot-target")) == (
        200,
        {"slug": "bot-target", "hits": 0, "visitors": 0, "likes": 0},
    )


def test_browsers_are_counted(twin: Twin) -> None:
    for i, ua in enumerate(BROWSER_UAS.values()):
        assert twin.post(hit("human-target", user_agent=ua, ip=f"198.51.100.{i + 1}"))[0] == 202
    twin.post(like("human-target", user_agent=BROWSER_UAS["firefox-linux"], ip="198.51.100.3"))
    twin.settle()
    status, body = twin.get(get("/statistics/human-target"))
    n = len(BROWSER_UAS)
    assert (status, body) == (200, {"slug": "human-target", "hits": n, "visitors": n, "likes": 1})
