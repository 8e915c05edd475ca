"""Dimensions: a visit's source, campaign, browser, OS, device and country, derived from real inputs with the
bundled UA rules and IP data; bounded, clean and free of the client's IP and User-Agent whatever a client sends."""

from __future__ import annotations

import ipaddress
import unicodedata

import crawleruseragents
import pytest
from hitstream.audience import dimensions
from hitstream.audience.dimensions import Dimensions, agent, clean_utm, country, derive, referrer_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 "
    "Mobile/15E148 Safari/604.1"
)

# (User-Agent, browser, OS, device)
USER_AGENTS = [
    (CHROME_WINDOWS, "Chrome", "Windows", "desktop"),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Firefox",
        "Windows",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36 Edg/131.0.0.0",
        "Edge",
        "Windows",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36 OPR/116.0.0.0",
        "Opera",
        "Windows",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36",
        "Chrome",
        "Mac OS X",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Firefox",
        "Mac OS X",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
        "Safari/605.1.15",
        "Safari",
        "Mac OS X",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36 Edg/131.0.0.0",
        "Edge",
        "Mac OS X",
        "desktop",
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Chrome",
        "Linux",
        "desktop",
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox", "Linux", "desktop"),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox", "Ubuntu", "desktop"),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36",
        "Chrome",
        "Chrome OS",
        "desktop",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        "Mobile Safari",
        "iOS",
        "mobile",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
        "Chrome Mobile iOS",
        "iOS",
        "mobile",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 [FBAN/FBIOS;FBAV/480.0.0.38.107;FBBV/652270584;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;"
        "FBSV/17.6;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
        "Facebook",
        "iOS",
        "mobile",
    ),
    (IPAD, "Mobile Safari", "iOS", "tablet"),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile "
        "Safari/537.36",
        "Chrome Mobile",
        "Android",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 "
        "Mobile Safari/537.36",
        "Chrome Mobile",
        "Android",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240905.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36",
        "Chrome Mobile WebView",
        "Android",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36",
        "Chrome",
        "Android",
        "tablet",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        "Samsung Internet",
        "Android",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-X706B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36",
        "Samsung Internet",
        "Android",
        "tablet",
    ),
    ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "Firefox Mobile", "Android", "mobile"),
    ("Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0", "Firefox Mobile", "Android", "tablet"),
    (
        "Mozilla/5.0 (Linux; Android 9; KFMAWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/131.3.1 like "
        "Chrome/131.0.6778.108 Safari/537.36",
        "Amazon Silk",
        "Android",
        "tablet",
    ),
    (
        "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 "
        "Chrome/76.0.3809.146 TV Safari/537.36",
        "Samsung Internet",
        "Tizen",
        "other",
    ),
    (
        "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/87.0.4280.88 "
        "Safari/537.36 WebAppManager",
        "Chrome",
        "Web0S",
        "other",
    ),
    (
        "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 "
        "Safari/605.1.15",
        "Safari",
        "Other",
        "other",
    ),
    (
        "Mozilla/5.0 (Nintendo Switch; WifiWebAuthApplet) AppleWebKit/606.4 (KHTML, like Gecko) NF/6.0.1.15.4 "
        "NintendoBrowser/5.1.0.20393",
        "Other",
        "Other",
        "other",
    ),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "Other", "other"),
    ("curl/8.5.0", "curl", "Other", "other"),
    ("", "Other", "Other", "other"),
    ("   ", "Other", "Other", "other"),
]


@pytest.mark.parametrize(("user_agent", "browser", "os", "device"), USER_AGENTS)
def test_user_agent_families_and_device_class(user_agent: str, browser: str, os: str, device: str) -> None:
    assert agent(user_agent) == (browser, os, device)


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; JohnDoeSecretDiaryCrawler/1.0)",
        "AliceSmithPersonalEmailBot/2.0",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ/1.0 CFNetwork/1",
    ],
)
def test_a_long_family_captured_from_the_user_agent_itself_is_not_stored(user_agent: str) -> None:
    # The rules would name these after the UA's own text; only the rules' fixed names may be that long.
    assert agent(user_agent) == ("Other", "Other", "other")


def test_a_device_model_never_reaches_a_dimension() -> None:
    ua = (
        "Mozilla/5.0 (Linux; Android 14; AliceSmithsVeryPrivatePhoneModel) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36"
    )
    assert agent(ua) == ("Chrome Mobile", "Android", "mobile")


def test_only_a_bounded_prefix_of_the_user_agent_is_parsed() -> None:
    huge = CHROME_WINDOWS + " (KHTML, like Gecko)" * 800  # ~17 KB, past what API Gateway forwards
    assert agent(huge) == agent(huge[: dimensions.UA_PREFIX]) == ("Chrome", "Windows", "desktop")


@pytest.mark.parametrize("user_agent", [None, 42, b"Mozilla/5.0", ["Mozilla/5.0"]])
def test_a_user_agent_that_is_not_a_string_is_unknown(user_agent: object) -> None:
    assert agent(user_agent) == ("Other", "Other", "other")


def test_every_crawler_in_the_maintained_list_yields_bounded_clean_labels() -> None:
    uas = {ua for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA for ua in entry.get("instances", [])}
    assert len(uas) > 1000
    for ua in uas:
        browser, os, device = agent(ua)
        assert device in dimensions.DEVICES
        for value in (browser, os):
            assert value == _clean_reference(value) and 0 < len(value) <= 100


# --- countries -------------------------------------------------------------------------------------------------


# Addresses whose registration is old and stable: Google Public DNS (ARIN), RIPE NCC's own servers, the WIDE
# project's root server (APNIC).
@pytest.mark.parametrize(
    ("ip", "code"),
    [
        ("8.8.8.8", "US"),
        ("2001:4860:4860::8888", "US"),
        ("193.0.6.139", "NL"),
        ("2001:67c:2e8:22::c100:68b", "NL"),
        ("202.12.27.33", "JP"),
        ("::ffff:8.8.8.8", "US"),  # IPv4-mapped, as a dual-stack socket reports it
    ],
)
def test_country_of_public_addresses_from_the_bundled_registry_data(ip: str, code: str) -> None:
    assert country(ip) == code


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "::1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.1.1",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "203.0.113.5",
        "2001:db8::1",
        "0.0.0.0",
        "255.255.255.255",
        "",
        "garbage",
        "8.8.8.8 ",
        "08.08.08.08",
        "1.2.3",
        "8.8.8.8:443",
        "x" * 100_000,
        None,
        8,
    ],
)
def test_loopback_private_reserved_and_malformed_addresses_are_zz(ip: object) -> None:
    assert country(ip) == "ZZ"


@pytest.mark.parametrize(
    ("header", "code"),
    [("DE", "DE"), ("de", "DE"), ("Zz", "ZZ"), ("", "US"), ("DEU", "US"), ("1A", "US"), ("é1", "US"), (None, "US")],
)
def test_cloudfront_viewer_country_wins_when_it_is_two_ascii_letters(header: str | None, code: str) -> None:
    assert country("8.8.8.8", header) == code


def test_lookups_only_ever_answer_a_country_code_or_zz() -> None:
    # RIR files also assign blocks to regions ("EU", "AP"), which are not countries.
    addresses = [str(ipaddress.IPv4Address(n * 2_654_435_761 % 2**32)) for n in range(20_000)]
    codes = {country(a) for a in addresses}
    assert len(codes) > 50
    assert all(len(c) == 2 and c.isascii() and c.isupper() for c in codes)
    assert not codes & {"EU", "AP"}


# --- referrers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("referrer", "source"),
    [
        ("https://news.ycombinator.com/item?id=1", "news.ycombinator.com"),
        ("https://www.google.com/", "google.com"),
        ("HTTPS://WWW.Google.COM/search?q=secret+query", "google.com"),
        ("http://www.bing.com:8080/path#frag", "bing.com"),
        ("https://t.co/abc", "t.co"),
        ("https://user:password@www.reddit.com/r/x", "reddit.com"),
        ("https://evil.example@good.example/", "good.example"),
        ("https://duckduckgo.com./", "duckduckgo.com"),
        ("  https://lobste.rs/s/x  ", "lobste.rs"),
        ("https://docs.example.com/guide", "docs.example.com"),  # a subdomain is another source
        ("https://www.docs.example.com/", "docs.example.com"),
        ("https://bücher.example/", "xn--bcher-kva.example"),  # IDN: the ASCII form browsers send
        ("https://xn--bcher-kva.example/", "xn--bcher-kva.example"),
        ("https://MÜNCHEN.de/", "xn--mnchen-3ya.de"),
        ("http://8.8.8.8/", "8.8.8.8"),
        ("http://[2001:DB8:0:0::1]:8080/", "2001:db8::1"),
        ("http://localhost:9000/", "localhost"),
    ],
)
def test_referrer_hostname_is_the_source(referrer: str, source: str) -> None:
    assert referrer_source(referrer, "example.com") == source


@pytest.mark.parametrize(
    "referrer",
    [
        "https://example.com/another-post",
        "https://www.example.com/",
        "http://example.com:8080/",
        "https://EXAMPLE.com./x",
        "https://someone@www.example.com/",
    ],
)
def test_a_referrer_on_the_same_site_is_no_source(referrer: str) -> None:
    assert referrer_source(referrer, "example.com") is None
    assert referrer_source(referrer, "www.example.com") is None
    assert referrer_source(referrer, "Example.COM") is None


def test_same_site_holds_for_the_twins_default_sites() -> None:
    assert referrer_source("http://localhost:8000/a", "localhost") is None
    assert referrer_source("http://127.0.0.1:8000/a", "127.0.0.1") is None
    assert referrer_source("http://127.0.0.1:9000/", "localhost") == "127.0.0.1"


@pytest.mark.parametrize(
    "referrer",
    [
        "",
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "android-app://com.google.android.gm/",
        "ios-app://123/x",
        "ftp://ftp.example.org/",
        "file:///etc/passwd",
        "chrome-extension://abcdef/page.html",
        "about:blank",
        "not a url",
        "//example.org/no-scheme",
        "http://",
        "http:///path-only",
        "http://exa mple.com/",
        "http://a..b/",
        "http://-bad-.com/",
        "http://%65xample.com/",
        "http://[::1",
        "http://[not-an-ip]/",
        "http://3232235521/",
        "http://1.2.3.4.5/",
        "https://x\x00y.com/",
        "https://" + "a" * 64 + ".com/",
        "https://" + "a." * 200 + "com/",
        "https://" + "a" * 5000,
    ],
)
def test_garbage_and_other_schemes_are_no_source(referrer: str) -> None:
    assert referrer_source(referrer, "example.com") is None


def test_a_long_hostname_keeps_its_rightmost_labels_within_100_characters() -> None:
    host = ".".join(["a" * 60, "b" * 60, "c" * 60, "example", "com"])
    assert referrer_source(f"https://{host}/", "example.org") == "c" * 60 + ".example.com"


def test_a_referrer_is_stored_as_its_hostname_only() -> None:
    dims = _derive(referrer="https://mail.example.net/inbox/u/0/?token=SECRET&email=a%40b.c#msg-1")
    assert dims.source == "mail.example.net"


# --- UTM values ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [
        ("newsletter", "newsletter"),
        ("Newsletter", "Newsletter"),  # case is the site owner's label, kept as Plausible keeps it
        ("  Spring   Sale  ", "Spring Sale"),
        ("a\tb\nc\r\nd", "a b c d"),
        ("x\x00\x07\x1by", "xy"),
        ("\u200bnews\u200dletter\u202e", "newsletter"),  # format characters (Cf), including bidi overrides
        ("\ud800abc", "abc"),  # a lone surrogate, as json.loads lets through
        ("\ue000private", "private"),  # private use (Co)
        ("cafe\u0301", "café"),  # NFC
        ("a\u2028b\u3000c", "a b c"),  # line separator, ideographic space
        ("ü" * 150, "ü" * 100),
        ("a" * 99 + " b", "a" * 99),
        ("", None),
        ("   ", None),
        ("\x00\x01\u200b", None),
        (None, None),
        (5, None),
        (True, None),
        (["a"], None),
        ({"a": "b"}, None),
        (b"bytes", None),
    ],
)
def test_clean_utm(value: object, cleaned: str | None) -> None:
    assert clean_utm(value) == cleaned


def test_utm_source_wins_over_the_referrer_and_campaign_defaults_to_none() -> None:
    assert _derive(utm_source="Newsletter", referrer="https://google.com/").source == "Newsletter"
    assert _derive(utm_source=" \x00 ", referrer="https://google.com/").source == "google.com"
    assert _derive(utm_source=None, referrer=None).source == "(direct)"
    assert _derive(utm_source=None, referrer="https://example.com/other").source == "(direct)"
    assert _derive(utm_campaign="spring_sale").campaign == "spring_sale"
    assert _derive(utm_campaign="").campaign == "(none)"
    assert _derive(utm_campaign=7).campaign == "(none)"


def test_derive_puts_it_together() -> None:
    dims = derive(
        site="example.com",
        referrer="https://www.google.com/search?q=x",
        utm_source=None,
        utm_campaign=" Spring\x00  sale\n",
        user_agent=IPAD,
        ip="8.8.8.8",
    )
    assert dims == Dimensions(
        source="google.com", campaign="Spring sale", browser="Mobile Safari", os="iOS", device="tablet", country="US"
    )
    behind_edge = derive(
        site="example.com",
        referrer=None,
        utm_source=None,
        utm_campaign=None,
        user_agent=CHROME_WINDOWS,
        ip="8.8.8.8",
        viewer_country="fr",
    )
    assert behind_edge == Dimensions("(direct)", "(none)", "Chrome", "Windows", "desktop", "FR")


def test_the_clients_public_ip_never_reaches_a_dimension() -> None:
    ip = "81.2.69.142"
    dims = _derive(
        ip=ip,
        referrer=f"http://{ip}:8080/",
        utm_campaign=f"from {ip}",
        user_agent=f"{ip}/1.0 ({ip})",
    )
    assert dims == Dimensions("(direct)", "(none)", "Other", "Other", "other", "GB")


def test_hostile_values_of_every_type_never_raise() -> None:
    for value in (None, 0, 1.5, True, [], {}, b"\xff", object(), "\x00" * 4096, "\ud800" * 4096, "x" * 1_000_000):
        dims = derive(
            site=value,  # type: ignore[arg-type]
            referrer=value,
            utm_source=value,
            utm_campaign=value,
            user_agent=value,  # type: ignore[arg-type]
            ip=value,  # type: ignore[arg-type]
            viewer_country=value,  # type: ignore[arg-type]
        )
        _assert_bounded_and_clean(dims)


# --- properties ------------------------------------------------------------------------------------------------

_HOSTILE_TEXT = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from("\x00\t\n\r\x1b\x7f\x85\u2028\u200b\u202e\ud800 .:/@[]%")),
    max_size=300,
)
_URLS = st.builds(
    lambda scheme, host, port, tail: f"{scheme}{host}{port}{tail}",
    st.sampled_from(["http://", "https://", "HTTP://", "javascript:", "data:", "android-app://", "", "//"]),
    st.one_of(
        st.from_regex(r"[a-z0-9-]{1,70}(\.[a-z0-9-]{1,70}){0,5}", fullmatch=True),
        st.ip_addresses().map(lambda a: f"[{a}]" if a.version == 6 else str(a)),
        _HOSTILE_TEXT,
    ),
    st.sampled_from(["", ":80", ":99999", ":x"]),
    _HOSTILE_TEXT,
)
_PUBLIC_IPS = st.ip_addresses().filter(lambda a: a.is_global).map(str)
_USER_AGENTS = st.one_of(
    _HOSTILE_TEXT,
    st.sampled_from([ua for ua, *_ in USER_AGENTS]),
    st.builds(lambda ua, junk: ua + junk, st.sampled_from([ua for ua, *_ in USER_AGENTS]), _HOSTILE_TEXT),
)
_ANY = st.one_of(st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2), _HOSTILE_TEXT)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    site=st.one_of(st.sampled_from(["example.com", "localhost", "127.0.0.1", "www.blog.example.com"]), _HOSTILE_TEXT),
    referrer=st.one_of(_URLS, _ANY),
    utm_source=_ANY,
    utm_campaign=_ANY,
    user_agent=_USER_AGENTS,
    ip=st.one_of(_PUBLIC_IPS, _HOSTILE_TEXT),
    viewer_country=st.one_of(st.none(), st.text(max_size=3)),
)
def test_derive_never_raises_and_stores_nothing_identifying(
    site: str,
    referrer: object,
    utm_source: object,
    utm_campaign: object,
    user_agent: str,
    ip: str,
    viewer_country: str | None,
) -> None:
    dims = derive(
        site=site,
        referrer=referrer,
        utm_source=utm_source,
        utm_campaign=utm_campaign,
        user_agent=user_agent,
        ip=ip,
        viewer_country=viewer_country,
    )
    _assert_bounded_and_clean(dims)
    if _is_public(ip):
        assert not any(ip in value for value in vars(dims).values())
    parser = dimensions._ua_parser()
    legitimate = parser.known_browsers | parser.known_os
    other_inputs = " ".join(str(v) for v in (site, referrer, utm_source, utm_campaign))
    for value in vars(dims).values():
        for start in range(len(value) - 19):
            chunk = value[start : start + 20]
            if chunk in user_agent and chunk not in other_inputs:
                assert value in legitimate, f"{value!r} carries UA text"


# --- helpers ---------------------------------------------------------------------------------------------------


def _derive(**overrides: object) -> Dimensions:
    args: dict[str, object] = {
        "site": "example.com",
        "referrer": None,
        "utm_source": None,
        "utm_campaign": None,
        "user_agent": CHROME_WINDOWS,
        "ip": "8.8.8.8",
    }
    return derive(**{**args, **overrides})  # type: ignore[arg-type]


def _clean_reference(value: str) -> str:
    return "".join(ch for ch in value if unicodedata.category(ch)[0] != "C").strip()


def _assert_bounded_and_clean(dims: Dimensions) -> None:
    for value in vars(dims).values():
        assert isinstance(value, str) and 0 < len(value) <= 100
        assert value == _clean_reference(value), repr(value)
    assert dims.device in dimensions.DEVICES
    assert len(dims.country) == 2 and dims.country.isascii() and dims.country.isupper()


def _is_public(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_global
    except ValueError:
        return False
