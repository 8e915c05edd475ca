"""Sites: which hostnames a deployment serves, and which one a request means."""

from __future__ import annotations

import re

# A DNS hostname (labels of letters, digits and hyphens) or an IPv4 address; at most 253 characters, no port.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
MAX_SITE_LENGTH = 253


def normalize(value: str) -> str | None:
    """The site a hostname names: lowercased, one trailing dot and a leading "www." dropped; None if malformed."""
    host = value.strip().lower()
    if host.endswith("."):
        host = host[:-1]
    if host.startswith("www.") and host != "www.":
        host = host[4:]
    if not host or len(host) > MAX_SITE_LENGTH or not _HOSTNAME.fullmatch(host):
        return None
    return host


def resolve(requested: str | None, sites: tuple[str, ...]) -> str | None:
    """The listed site a request's `site` parameter names (the default, the first, when absent); None if unlisted."""
    if requested is None:
        return sites[0]
    site = normalize(requested)
    return site if site in sites else None
