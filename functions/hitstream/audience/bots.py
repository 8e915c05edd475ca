"""Bot detection from the maintained crawler-user-agents list (vendored at the pinned version), in time linear in
the User-Agent's length.

Python's `re` backtracks: one search of the list's ~1,500 alternatives cost ~40 µs per character, and its
`[\\s\\S]*` patterns made it quadratic. So the patterns are compiled once into checks that are each linear:

* a pattern whose language is a finite set of strings (almost all: `Googlebot\\/`, `[wW]get`, `(^| )PTST\\/`)
  becomes those strings, lower-cased: `^`-anchored ones are one `startswith`, `$`-anchored ones one `endswith`,
  the rest sit in a dict keyed by their first characters, looked up once per position of the text;
* `A[\\s\\S]*B` becomes "A, then B later": one `str.find` per part;
* the two others (`\\d+`, `[^-]`) stay regexes, each anchored on a literal, so bounded by the examined text.

Only the first `EXAMINED_CHARS` characters are examined: every real browser's User-Agent and every example of
the list is far shorter, and a client that hides a bot token past them could as well claim to be Firefox.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

EXAMINED_CHARS = 512

# Default User-Agents of HTTP client libraries, API tools, load testers and headless or automated browsers that
# the crawler list does not name. Same syntax as the list's patterns, matched case-insensitively. A token that is
# also a common word is anchored to the start, where the library puts it (`Ruby`, `node`, `got (`).
EXTRA_PATTERNS = (
    # headless and automated browsers, audits
    "HeadlessChrome",
    "PhantomJS",
    "Puppeteer",
    "Playwright",
    "Selenium",
    "Cypress/",
    "Lighthouse",
    "SlimerJS",
    # command-line clients and API tools
    "curl",
    "wget",
    "HTTPie",
    "PostmanRuntime",
    "insomnia/",
    "Paw/",
    "RapidAPI",
    "Thunder Client",
    "bruno-runtime",
    "Hoppscotch",
    "PowerShell/",
    "WindowsPowerShell",
    "WinHttp",
    "Microsoft BITS",
    # load testing
    "ApacheBench",
    "^ab/",
    "^wrk",
    "^hey/",
    "(^| )k6/",
    "JMeter",
    "Artillery",
    "Gatling",
    "locust",
    "^Vegeta",
    "^siege",
    "Go-http-client",
    "Go 1\\.1 package http",
    # Python
    "python-requests",
    "python-urllib",
    "urllib3",
    "aiohttp",
    "httpx",
    "httpcore",
    "Scrapy",
    "^python/",
    "pycurl",
    "^Tornado/",
    # JavaScript runtimes and libraries
    "node-fetch",
    "^node$",
    "^node/",
    "^node\\.js",
    "axios",
    "undici",
    "^got ",
    "^got/",
    "superagent",
    "needle/",
    "^Deno/",
    "^Bun/",
    "^ky/",
    # JVM and Android
    "okhttp",
    "^Java/",
    "Java-http-client",
    "Apache-HttpClient",
    "Apache-HttpAsyncClient",
    "Jakarta Commons-HttpClient",
    "Ktor client",
    "^Dalvik/",
    "Jetty/",
    "ReactorNetty",
    "AsyncHttpClient",
    # Ruby, PHP, Perl, .NET, Go, Rust, Dart, Swift, others
    "^Ruby",
    "Faraday",
    "rest-client",
    "Typhoeus",
    "http\\.rb/",
    "HTTPClient/",
    "GuzzleHttp",
    "^Guzzle",
    "^PHP",
    "Symfony HttpClient",
    "libwww-perl",
    "^LWP::",
    "HTTP::Tiny",
    "RestSharp",
    "Flurl",
    "^reqwest",
    "^hyper/",
    "^Dart/",
    "^CFNetwork/",
    "Alamofire",
    "^Wget",
    "libcurl",
    "^fasthttp",
    "^colly",
    "^Zend_Http_Client",
    "^WWW-Mechanize",
    "^Mojolicious",
)


@dataclass(frozen=True)
class _Detector:
    index: dict[str, tuple[str, ...]]  # the finite patterns' strings, by their first `key_length` characters
    key_length: int
    prefixes: tuple[str, ...]  # `^A`
    suffixes: tuple[str, ...]  # `A$`
    whole: frozenset[str]  # `^A$`
    ordered: tuple[tuple[str, ...], ...]  # `A.*B...`: parts that must occur in this order
    others: tuple[re.Pattern[str], ...]

    def matches(self, text: str, complete: bool = True) -> bool:
        """Whether a pattern matches `text`; `complete` is False when `text` was cut, so `$` cannot match."""
        lowered = text.lower()
        if lowered.startswith(self.prefixes) or (
            complete and (lowered.endswith(self.suffixes) or lowered in self.whole)
        ):
            return True
        index, k = self.index, self.key_length
        for i in range(len(lowered)):
            candidates = index.get(lowered[i : i + k])
            if candidates is not None:
                for literal in candidates:
                    if lowered.startswith(literal, i):
                        return True
        for parts in self.ordered:
            start = 0
            for part in parts:
                found = lowered.find(part, start)
                if found < 0:
                    break
                start = found + len(part)
            else:
                return True
        return any(p.search(text) for p in self.others)


def is_bot(user_agent: str | None) -> bool:
    """True for a missing or blank User-Agent and for one that a bot pattern matches in its first characters."""
    if not user_agent or user_agent.isspace():
        return True
    text = user_agent[:EXAMINED_CHARS]
    return _detector().matches(text, complete=len(text) == len(user_agent))


@lru_cache(maxsize=1)
def _detector() -> _Detector:
    return compile_patterns(crawler_patterns() + list(EXTRA_PATTERNS))


def crawler_patterns() -> list[str]:
    entries = json.loads((Path(__file__).parent / "crawler-user-agents.json").read_text())
    return [str(e["pattern"]) for e in entries]


def compile_patterns(patterns: list[str]) -> _Detector:
    literals: set[str] = set()
    ordered: list[tuple[str, ...]] = []
    others: list[re.Pattern[str]] = []
    for pattern in patterns:
        for branch in _top_level_branches(pattern):
            parts = _GAP.split(branch)
            expanded = [_expand(part) for part in parts]
            if len(parts) == 1 and expanded[0] is not None:
                literals.update(expanded[0])
            elif len(parts) > 1 and all(e is not None and len(e) == 1 and _plain(next(iter(e))) for e in expanded):
                ordered.append(tuple(next(iter(e)) for e in expanded if e is not None))
            else:
                others.append(re.compile(branch, re.IGNORECASE))
    unanchored: list[str] = []
    prefixes, suffixes, whole = [], [], set()
    for s in literals:
        anchored_start, anchored_end = s.startswith(_START), s.endswith(_END)
        core = s.removeprefix(_START).removesuffix(_END)
        if _START in core or _END in core:
            continue  # an anchor inside a string can never match
        if not core and not (anchored_start and anchored_end):
            raise ValueError("a bot pattern matches every User-Agent")
        if anchored_start and anchored_end:
            whole.add(core)
        elif anchored_start:
            prefixes.append(core)
        elif anchored_end:
            suffixes.append(core)
        else:
            unanchored.append(core)
    # Every string is indexed by its first `key_length` characters, the length of the shortest one.
    key_length = min(map(len, unanchored), default=1)
    index: dict[str, list[str]] = {}
    for core in sorted(unanchored):
        index.setdefault(core[:key_length], []).append(core)
    return _Detector(
        index={k: tuple(v) for k, v in index.items()},
        key_length=key_length,
        prefixes=tuple(sorted(prefixes)),
        suffixes=tuple(sorted(suffixes)),
        whole=frozenset(whole),
        ordered=tuple(ordered),
        others=tuple(others),
    )


# A finite pattern's strings carry these marks where the pattern has `^` and `$`.
_START, _END = "\ue000", "\ue001"
_GAP = re.compile(r"\[\\s\\S\]\*|(?<!\\)\.\*")
_CLASS_ESCAPES = {"d": "0123456789"}
_MAX_STRINGS = 64  # a pattern that expands to more strings than this stays a regex


def _plain(s: str) -> bool:
    return _START not in s and _END not in s


def _top_level_branches(pattern: str) -> list[str]:
    branches, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = pattern.find("]", i + 2) + 1 or len(pattern)
            continue
        depth += c == "("
        depth -= c == ")"
        if c == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*branches, pattern[start:]]


def _expand(pattern: str) -> set[str] | None:
    """The lower-cased strings a pattern of literals, escapes, classes, groups, `|`, `?`, `^` and `$` matches;
    None for anything else (repetition, negated classes, `.`)."""
    try:
        strings, end = _expand_alternation(pattern, 0)
    except _NotFinite:
        return None
    return strings if end == len(pattern) else None


class _NotFinite(Exception):
    pass


def _expand_alternation(p: str, i: int) -> tuple[set[str], int]:
    result: set[str] = set()
    while True:
        strings, i = _expand_sequence(p, i)
        result |= strings
        if i < len(p) and p[i] == "|":
            i += 1
            continue
        return result, i


def _expand_sequence(p: str, i: int) -> tuple[set[str], int]:
    strings = {""}
    while i < len(p) and p[i] not in "|)":
        atom, i = _expand_atom(p, i)
        if i < len(p) and p[i] == "?":
            atom, i = atom | {""}, i + 1
        if i < len(p) and p[i] in "*+{":
            raise _NotFinite
        strings = {s + a for s in strings for a in atom}
        if len(strings) > _MAX_STRINGS:
            raise _NotFinite
    return strings, i


def _expand_atom(p: str, i: int) -> tuple[set[str], int]:
    c = p[i]
    if c == "(":
        if p.startswith("(?:", i):
            i += 2
        elif p.startswith("(?", i):
            raise _NotFinite
        inner, i = _expand_alternation(p, i + 1)
        if i >= len(p) or p[i] != ")":
            raise _NotFinite
        return inner, i + 1
    if c == "[":
        return _expand_class(p, i)
    if c == "\\":
        if i + 1 >= len(p):
            raise _NotFinite
        e = p[i + 1]
        if e in _CLASS_ESCAPES:
            return set(_CLASS_ESCAPES[e]), i + 2
        if e.isalnum():
            raise _NotFinite
        return {e.lower()}, i + 2
    if c == "^":
        return {_START}, i + 1
    if c == "$":
        return {_END}, i + 1
    if c in ".*+?{}]":
        raise _NotFinite
    return {c.lower()}, i + 1


def _expand_class(p: str, i: int) -> tuple[set[str], int]:
    i += 1
    if i < len(p) and p[i] == "^":
        raise _NotFinite
    chars: set[str] = set()
    while i < len(p) and p[i] != "]":
        c = p[i]
        if c == "\\":
            if i + 1 >= len(p):
                raise _NotFinite
            e = p[i + 1]
            if e in _CLASS_ESCAPES:
                chars.update(_CLASS_ESCAPES[e])
            elif e.isalnum():
                raise _NotFinite
            else:
                chars.add(e)
            i += 2
        elif i + 2 < len(p) and p[i + 1] == "-" and p[i + 2] != "]":
            chars.update(chr(x) for x in range(ord(c), ord(p[i + 2]) + 1))
            i += 3
        else:
            chars.add(c)
            i += 1
    if i >= len(p) or not chars:
        raise _NotFinite
    return {c.lower() for c in chars}, i + 1
