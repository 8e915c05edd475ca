"""Bots: every User-Agent of the maintained crawler list, automation clients and headless browsers, and a
missing or empty User-Agent, are accepted with 202 and count nothing. Real browsers count."""

from __future__ import annotations

import json
import random
import re
from importlib import metadata
from pathlib import Path

import boto3
import crawleruseragents
import pytest
from hitstream.audience import bots
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import api_event, get, hit, like
from tests.conftest import ROOT, Twin

VENDORED = ROOT / "functions" / "hitstream" / "audience" / "crawler-user-agents.json"
CRAWLER_UAS = sorted({ua for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA for ua in entry.get("instances", [])})

# Default User-Agents of HTTP client libraries, API tools, load testers, headless browsers, and a few crawlers.
AUTOMATION_UAS = [
    "curl/8.5.0",
    "Wget/1.21.4",
    "Wget/1.20.3 (linux-gnu)",
    "python-requests/2.32.3",
    "Python-urllib/3.11",
    "python-urllib3/2.2.1",
    "Python/3.12 aiohttp/3.9.5",
    "python-httpx/0.27.0",
    "Scrapy/2.11.2 (+https://scrapy.org)",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "Java/17.0.2",
    "Java-http-client/21.0.1",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "Apache-HttpClient/5.2.1 (Java/17.0.9)",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "node-fetch",
    "node",
    "undici",
    "axios/1.7.2",
    "got (https://github.com/sindresorhus/got)",
    "Deno/1.44.4",
    "Bun/1.1.17",
    "PostmanRuntime/7.39.0",
    "insomnia/9.2.0",
    "HTTPie/3.2.2",
    "libwww-perl/6.77",
    "LWP::Simple/6.77 libwww-perl/6.77",
    "Ruby",
    "Faraday v2.9.2",
    "rest-client/2.1.0 (linux x86_64) ruby/3.3.0p0",
    "RestSharp/111.2.0.0",
    "Dart/3.4 (dart:io)",
    "reqwest/0.12.5",
    "GuzzleHttp/7",
    "PHP/8.3.8",
    "k6/0.52.0 (https://k6.io/)",
    "Apache-HttpClient/4.5.14 (Java/21) JMeter/5.6.3",
    "Artillery (https://artillery.io)",
    "ApacheBench/2.3",
    "hey/0.0.1",
    "wrk",
    "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) PowerShell/7.4.3",
    "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.2506",
    "WinHttp-Autoproxy-Service/5.1",
    "Microsoft BITS/7.8",
    "CFNetwork/1494.0.7 Darwin/23.4.0",
    "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A.240805.005)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.6778.33 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Cypress/13.13.0 Chrome/118.0.5993.159 Electron/27.3.10 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 PTST/240701.151526",
    "Typhoeus - https://github.com/typhoeus/typhoeus",
    "http.rb/5.2.0",
    "Symfony HttpClient (Curl)",
    "Ktor client",
    "colly - https://github.com/gocolly/colly",
    "fasthttp",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]
EMPTY_UAS = ["", " ", "\t"]

# Real browsers, desktop and mobile, and in-app browsers: people.
BROWSER_UAS = {
    "chrome-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "chrome-macos": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "chrome-linux": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "chrome-chromeos": "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "chrome-android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "chrome-android-tablet": "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "chrome-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    "android-webview": "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/128.0.6613.127 Mobile Safari/537.36",
    "firefox-linux": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "firefox-ubuntu": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "firefox-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "firefox-macos": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
    "firefox-android": "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "firefox-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
    "firefox-esr": "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0",
    "safari-macos": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "safari-iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "safari-ipad": "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
    "edge-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "edge-android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0",
    "edge-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/131.2903.70 Mobile/15E148 Safari/605.1.15",
    "samsung-internet": "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    "opera-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
    "opera-android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36 OPR/86.0.0.0",
    "opera-gx": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0 (Edition std-2)",
    "vivaldi": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Vivaldi/7.0.3495.18",
    "yandex-browser": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 YaBrowser/24.10.0.0 Safari/537.36",
    "uc-browser": "Mozilla/5.0 (Linux; U; Android 10; en-US; RMX2030 Build/QKQ1.200209.002) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 UCBrowser/13.4.0.1306 Mobile Safari/537.36",
    "miui-browser": "Mozilla/5.0 (Linux; U; Android 13; en-us; 2201117TG Build/TKQ1.221114.001) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/112.0.5615.136 Mobile Safari/537.36 XiaoMi/MiuiBrowser/14.8.1-gn",
    "huawei-browser": "Mozilla/5.0 (Linux; Android 12; NOH-NX9; HMSCore 6.13.0.302) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.5735.196 HuaweiBrowser/15.0.4.312 Mobile Safari/537.36",
    "duckduckgo-android": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.0.0 Mobile DuckDuckGo/5 Safari/537.36",
    "duckduckgo-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Ddg/17.7 Safari/604.1",
    "facebook-in-app-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/443.0.0.35.111;FBBV/539520516;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1.2;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/541372014]",
    "instagram-in-app-android": "Mozilla/5.0 (Linux; Android 14; SM-A546B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/130.0.6723.107 Mobile Safari/537.36 Instagram 355.0.0.36.105 Android (34/14; 450dpi; 1080x2131; samsung; SM-A546B; a54x; s5e8835; en_GB; 652478347)",
    "linkedin-in-app": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.30.1961",
    "kindle-silk": "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/130.4.1 like Chrome/130.0.6723.102 Safari/537.36",
    "smart-tv": "Mozilla/5.0 (SMART-TV; Linux; Tizen 8.0) AppleWebKit/537.36 (KHTML, like Gecko) 120.0.6099.5/8.0 TV Safari/537.36",
    "playstation": "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Safari/605.1.15",
    "ie11": "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
}


# What the list's patterns match, the slow way: the one backtracking regex hitstream used to run.
REFERENCE = re.compile("|".join(bots.crawler_patterns() + list(bots.EXTRA_PATTERNS)), re.IGNORECASE)
FRAGMENTS = CRAWLER_UAS + AUTOMATION_UAS + list(BROWSER_UAS.values())
HOSTILE_FRAGMENTS = [
    "Spider ",  # `Spider[\\s\\S]*spider\\.com`: quadratic in the old regex
    "Current ",
    "ContextualBot ",
    "goo",  # the longest run of candidates that share a first key
    "Mozilla/5.0 (compatible; Googlebo Bingbo YandexBo Spide Curren AdsBot-Google- ",
    "BlogTraffic/1.1111111111 ",
]


@st.composite
def user_agent_like(draw: st.DrawFn) -> str:
    """Pieces of real bot and browser User-Agents, cut anywhere and glued with noise: text near every pattern."""
    pieces = []
    for _ in range(draw(st.integers(1, 4))):
        source = draw(st.sampled_from(FRAGMENTS))
        start = draw(st.integers(0, len(source)))
        end = draw(st.integers(start, len(source)))
        pieces.append(source[start:end])
        pieces.append(draw(st.text(st.sampled_from(" /.-();:_abcXYZ019"), max_size=3)))
    return "".join(pieces)


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


@settings(max_examples=300, deadline=None)
@given(user_agent_like())
def test_detection_agrees_with_the_lists_regex(ua: str) -> None:
    assert len(ua) <= bots.EXAMINED_CHARS
    assert bots.is_bot(ua) == (not ua.strip() or REFERENCE.search(ua) is not None)


@settings(max_examples=200, deadline=None)
@given(
    head=st.text(min_size=bots.EXAMINED_CHARS, max_size=bots.EXAMINED_CHARS).filter(lambda s: not s.isspace()),
    fragment=st.sampled_from([*HOSTILE_FRAGMENTS, "Googlebot/2.1", " ", "\x00"]),
    repeats=st.integers(1, 100 * 1024 // 7),
)
def test_only_the_first_examined_characters_are_read(head: str, fragment: str, repeats: int) -> None:
    """The work of one check is bounded whatever the length: nothing past the first 512 characters is read."""
    assert bots.is_bot(head + fragment * repeats) == bots.is_bot(head + "x")


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=()), max_size=2000))
def test_any_string_is_an_answer(ua: str) -> None:
    """Surrogates, NUL, control and combining characters, case-changing letters (`İ`): never an exception."""
    assert isinstance(bots.is_bot(ua), bool)


@pytest.mark.parametrize("size", [1024, 10 * 1024, 60 * 1024, 1024 * 1024], ids=["1KB", "10KB", "60KB", "1MB"])
@pytest.mark.parametrize("fragment", HOSTILE_FRAGMENTS)
def test_hostile_user_agents_of_any_size_are_answered(fragment: str, size: int) -> None:
    ua = (fragment * (size // len(fragment) + 1))[:size]
    assert bots.is_bot(ua) == bots.is_bot(ua[: bots.EXAMINED_CHARS + 1])
    assert bots.is_bot("curl/8.5.0 " + ua)


def test_a_token_past_the_examined_characters_is_not_seen() -> None:
    """The documented bound: a client that pads its User-Agent is a client that lies about it."""
    padded = BROWSER_UAS["firefox-linux"] + " " * (bots.EXAMINED_CHARS - len(BROWSER_UAS["firefox-linux"]))
    assert len(padded) == bots.EXAMINED_CHARS
    assert bots.is_bot(padded[:-20] + "Googlebot/2.1") is True
    assert bots.is_bot(padded + "Googlebot/2.1") is False
    assert bots.is_bot(" " * 100_000) is True


def test_anchors_hold() -> None:
    assert bots.is_bot("Ruby") and bots.is_bot("node") and bots.is_bot("CFNetwork/1494.0.7 Darwin/23.4.0")
    assert not bots.is_bot("Mozilla/5.0 (Macintosh) RubyMine/2024.1")
    assert not bots.is_bot("Reader/3 CFNetwork/1494.0.7 Darwin/23.4.0"), "an iOS app that names itself is a person"
    assert not bots.is_bot("nodeapp/1.0")
    assert bots.is_bot("GoogleAssociationService") and not bots.is_bot("GoogleAssociationService2")


@pytest.mark.parametrize("pattern", ["a?", "(b|)", "[0-9]?", "^"])
def test_a_pattern_that_matches_everything_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="every User-Agent"):
        bots.compile_patterns(["Googlebot", pattern])
