"""A visit's dimensions: where it came from, on what, from which country. Pure; nothing here does I/O.

Only these derived values are ever stored: a referrer's hostname (never its path or query), cleaned and bounded
UTM values, family names from the User-Agent parser's rules, a device class and a country code. Every value is at
most MAX_LENGTH characters without control characters, and none carries the client's IP or its full User-Agent.
The choices (libraries, same-site rule, bounds) are recorded in docs/decisions.md, "Dimensions: ...".
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import iptocc

from hitstream import sites

MAX_LENGTH = 100
DIRECT = "(direct)"
NO_CAMPAIGN = "(none)"
UNKNOWN_FAMILY = "Other"
UNKNOWN_DEVICE = "other"
UNKNOWN_COUNTRY = "ZZ"
DEVICES = ("desktop", "mobile", "tablet", "other")

# Input bounds: the body is at most 4 KiB, so these never cut a real value; they only cap the work on others.
MAX_INPUT = 4096
# The UA parser's regexes backtrack: ~20 ms worst case at 512 characters, ~0.7 s at 16 KB (docs/decisions.md).
# Real User-Agents are far shorter, and the tokens that name browser, OS and device come first.
UA_PREFIX = 512
# A family this long must be one of the rules' fixed names; a capture of the UA's own text this long is dropped.
_FREE_FAMILY_MAX = 19
# A DNS hostname in ASCII: labels of letters, digits and hyphens (punycode included), as sites.py accepts.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
MAX_HOSTNAME = 253
# RIR region codes (allocations to a region, not a country) that are not ISO 3166-1 countries.
_REGIONS = frozenset({"EU", "AP"})


@dataclass(frozen=True)
class Dimensions:
    source: str
    campaign: str
    browser: str
    os: str
    device: str
    country: str


def derive(
    *,
    site: str,
    referrer: object,
    utm_source: object,
    utm_campaign: object,
    user_agent: str,
    ip: str,
    viewer_country: str | None = None,
) -> Dimensions:
    """The dimensions of a visit, from its entry hit. Never raises, whatever the inputs hold."""
    browser, os_family, device = agent(user_agent)
    dims = Dimensions(
        source=clean_utm(utm_source) or referrer_source(referrer if isinstance(referrer, str) else "", site) or DIRECT,
        campaign=clean_utm(utm_campaign) or NO_CAMPAIGN,
        browser=browser,
        os=os_family,
        device=device,
        country=country(ip, viewer_country),
    )
    return _without_ip(dims, ip)


def clean_utm(value: object) -> str | None:
    """A UTM value as stored: control characters dropped, whitespace collapsed, NFC, at most MAX_LENGTH.

    Case is kept, as Plausible and GA4 do: `Newsletter` and `newsletter` are the site owner's own labels.
    """
    if not isinstance(value, str):
        return None
    return _clean(value[:MAX_INPUT]) or None


def referrer_source(referrer: str, site: str) -> str | None:
    """The hostname of an http(s) referrer, lowercased, IDNA (ASCII) form, without `www.`.

    None when there is no usable host (other schemes, garbage) or when the referrer is the site itself (any port,
    with or without `www.`). Subdomains of the site are other sources: `docs.example.com` sending readers to
    `example.com` is worth seeing. IP literals are kept in canonical form. A hostname longer than MAX_LENGTH keeps
    its rightmost labels (the registrable part) that fit.
    """
    if not isinstance(referrer, str) or not referrer:
        return None
    try:
        parts = urlsplit(referrer[:MAX_INPUT])
        if parts.scheme not in ("http", "https"):
            return None
        host = _host(parts.hostname or "")
    except ValueError:  # urlsplit's bracketed-host and port checks
        return None
    if host is None:
        return None
    host = host.removeprefix("www.")
    if host == _site_key(site):
        return None
    while len(host) > MAX_LENGTH:
        host = host.partition(".")[2]
    return host


def agent(user_agent: object) -> tuple[str, str, str]:
    """(browser family, OS family, device class) of a User-Agent; ("Other", "Other", "other") when unknown."""
    if not isinstance(user_agent, str) or not user_agent.strip():
        return UNKNOWN_FAMILY, UNKNOWN_FAMILY, UNKNOWN_DEVICE
    parser = _ua_parser()
    try:
        parsed = parser.parse(user_agent[:UA_PREFIX])
        browser = _family(parsed.browser.family, parser.known_browsers)
        os_family = _family(parsed.os.family, parser.known_os)
        device = _device(parsed)
    except Exception:  # noqa: BLE001 - a parser bug on a hostile UA must cost one visit's labels, not the hit
        return UNKNOWN_FAMILY, UNKNOWN_FAMILY, UNKNOWN_DEVICE
    return browser, os_family, device


def country(ip: object, viewer_country: object = None) -> str:
    """ISO 3166-1 alpha-2 code of the client: the trusted edge's header if given, else an offline lookup; ZZ."""
    if (
        isinstance(viewer_country, str)
        and len(viewer_country) == 2
        and viewer_country.isascii()
        and viewer_country.isalpha()
    ):
        return viewer_country.upper()
    address = _global_ip(ip)
    if address is None:
        return UNKNOWN_COUNTRY
    try:
        code = iptocc.country_code(str(address))
    except Exception:  # noqa: BLE001 - same reasoning as agent(): unknown, not an error
        return UNKNOWN_COUNTRY
    if isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha() and code.isupper():
        return UNKNOWN_COUNTRY if code in _REGIONS else code
    return UNKNOWN_COUNTRY


def warm() -> None:
    """Load the UA rules now (~0.1-0.3 s once per container) rather than on the first hit."""
    _ua_parser()


# --- internals -----------------------------------------------------------------------------------------------


class _Parser:
    """user-agents-ng over ua-parser's bundled uap-core rules, plus the rules' fixed family names."""

    def __init__(self) -> None:
        # ua_parser_builtins.regexes imports user_agent_parser itself, so the public module must load first.
        from ua_parser import user_agent_parser
        from user_agents import parse

        self.parse: Callable[[str], Any] = parse
        self.known_browsers = frozenset(
            p.family_replacement for p in user_agent_parser.USER_AGENT_PARSERS if _fixed(p.family_replacement)
        )
        self.known_os = frozenset(p.os_replacement for p in user_agent_parser.OS_PARSERS if _fixed(p.os_replacement))


@cache
def _ua_parser() -> _Parser:
    return _Parser()


def _fixed(name: object) -> bool:
    return isinstance(name, str) and bool(name) and "$" not in name


def _family(name: object, known: frozenset[str]) -> str:
    value = _clean(name) if isinstance(name, str) else ""
    if not value or (len(value) > _FREE_FAMILY_MAX and value not in known):
        return UNKNOWN_FAMILY
    return value


def _device(parsed: Any) -> str:
    if parsed.is_bot:
        return UNKNOWN_DEVICE
    # uap-core names Firefox's "Android; Tablet" UA "Generic Tablet"; user-agents-ng calls it mobile.
    if parsed.is_tablet or parsed.device.family == "Generic Tablet":
        return "tablet"
    if parsed.is_mobile:
        return "mobile"
    if parsed.is_pc:
        return "desktop"
    return UNKNOWN_DEVICE


def _clean(text: str) -> str:
    """Control characters (Unicode C*) dropped, whitespace runs made one space, NFC, at most MAX_LENGTH."""
    kept = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join(unicodedata.normalize("NFC", kept).split())[:MAX_LENGTH].rstrip()


def _host(raw: str) -> str | None:
    """A URL host as an ASCII hostname or a canonical IP literal; None if it is neither."""
    host = raw[:-1] if raw.endswith(".") else raw
    if not host or len(host) > MAX_HOSTNAME * 4:  # a non-ASCII label is at most 4 characters per ASCII one
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None
    # A numeric last label is no DNS name (browsers send IPv4 in dotted form, parsed above).
    if len(host) > MAX_HOSTNAME or not _HOSTNAME.fullmatch(host) or host.rpartition(".")[2].isdigit():
        return None
    return host


def _site_key(site: object) -> str:
    if not isinstance(site, str):
        return ""
    return sites.normalize(site[:300]) or ""


def _global_ip(ip: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(ip, str) or len(ip) > 64:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address if address.is_global else None


def _without_ip(dims: Dimensions, ip: object) -> Dimensions:
    """Belt and braces: no field may carry the client's public address, whatever a referrer, UTM or UA held."""
    address = _global_ip(ip)
    if address is None:
        return dims
    forms = {str(ip), str(address)}
    leaks = {name for name, value in vars(dims).items() if any(form in value for form in forms)}
    if not leaks:
        return dims
    unknown = {
        "source": DIRECT,
        "campaign": NO_CAMPAIGN,
        "browser": UNKNOWN_FAMILY,
        "os": UNKNOWN_FAMILY,
        "device": UNKNOWN_DEVICE,
        "country": UNKNOWN_COUNTRY,
    }
    return Dimensions(**{name: unknown[name] if name in leaks else value for name, value in vars(dims).items()})
