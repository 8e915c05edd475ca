"""Hostile input against the in-process twin: never a 5xx, 4xx as {"error": ...}, nothing written on a refusal.

The tests scan the events table to prove "nothing written"; the application itself never scans.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from hitstream.slugs import SLUG_PATTERN
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import api_event, get, hit, like
from tests.conftest import Twin, scan

FUZZ = settings(max_examples=40, deadline=None, database=None)
SLUG = re.compile(SLUG_PATTERN)
FIXED_SLUGS = {"post", "bytes", "b64", "raw", "nul", "deep", "num", "big", "shape", "edge", "ct"}  # other tests'
valid_slugs = st.from_regex(SLUG, fullmatch=True)
invalid_slugs = st.text(max_size=250).filter(lambda s: SLUG.fullmatch(s) is None)


@pytest.fixture(scope="module")
def twin(module_twin: Twin) -> Twin:
    return module_twin


def events(twin: Any) -> list[dict[str, Any]]:
    return scan(twin.backend.settings.events_table)


def call(twin: Any, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, body, headers = twin.call(
        "ingest" if event["requestContext"]["http"]["method"] == "POST" else "query", event
    )
    assert status < 500, (status, body, event.get("rawPath"))
    if status >= 400:
        assert headers.get("content-type", "").startswith("application/json"), headers
        assert isinstance(body.get("error"), str) and body["error"], body
    return status, body


def refused(twin: Any, event: dict[str, Any], *statuses: int) -> str:
    """Send a request that must be refused with one of `statuses` and must not write an event."""
    before = events(twin)
    status, body = call(twin, event)
    assert status in statuses, (status, body)
    assert events(twin) == before
    return str(body["error"])


def site_hits(twin: Any) -> int:
    twin.settle()
    status, body = call(twin, get("/statistics"))
    assert status == 200
    return int(body["hits"])


# --- slugs --------------------------------------------------------------------------------------------


def test_valid_slugs_are_accepted_and_counted(twin: Any) -> None:
    start = site_hits(twin)
    sent: dict[str, int] = {}

    @FUZZ
    @given(slug=valid_slugs.filter(lambda s: s not in FIXED_SLUGS))
    def send(slug: str) -> None:
        assert call(twin, hit(slug)) == (202, {"accepted": True})
        sent[slug] = sent.get(slug, 0) + 1

    send()
    twin.settle()
    for slug, hits in sent.items():
        status, body = call(twin, get(f"/statistics/{slug}"))
        assert (status, body["hits"], body["visitors"]) == (200, hits, 1)
    assert site_hits(twin) == start + sum(sent.values())


def test_invalid_slugs_are_refused_and_write_nothing(twin: Any) -> None:
    before, start = events(twin), site_hits(twin)

    @FUZZ
    @given(slug=invalid_slugs, kind=st.sampled_from(["hits", "likes"]))
    def send(slug: str, kind: str) -> None:
        path = f"/statistics/{quote(slug, safe='')}/{kind}"
        refused(twin, api_event("POST", path, body="{}"), 400, 404)
        status, _ = call(twin, get(f"/statistics/{quote(slug, safe='')}"))
        assert status in (200, 400, 404)  # "" is GET /statistics, the site totals

    send()
    assert events(twin) == before
    assert site_hits(twin) == start


@pytest.mark.parametrize(
    "path",
    [
        "/statistics/a%2Fb/hits",  # an encoded slash is not a separator, and not a slug character
        "/statistics/a%2fb/likes",
        "/statistics/..%2Fx/hits",
        "/statistics/%2e%2e/hits",
        "/statistics/../hits",
        "/statistics/./hits",
        "/statistics/a%00b/hits",  # NUL
        "/statistics/a%0A/hits",  # a trailing newline must not slip past a $ anchor
        "/statistics/%C3%A9t%C3%A9/hits",  # non-ASCII
        "/statistics/" + "a" * 201 + "/hits",
        "/statistics/-a/hits",
        "/statistics//hits",
        "/statistics/a/b/hits",
        "/statistics/a%252Fb/hits",  # double encoding is decoded once, never twice
    ],
)
def test_hostile_slug_paths_write_nothing(twin: Any, path: str) -> None:
    refused(twin, api_event("POST", path, body="{}"), 400, 404)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/statistics/../x", 404),
        ("/statistics/..", 400),
        ("/statistics/%2e%2e", 400),
        ("/statistics/a%2Fb", 400),
        ("/statistics/a%00", 400),
        ("/static/..%2F..%2Fconfig.py", 404),
        ("/static/../config.py", 404),
    ],
)
def test_path_traversal_on_reads(twin: Any, path: str, status: int) -> None:
    assert call(twin, get(path))[0] == status


# --- bodies -------------------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20
)


def acceptable(value: Any, raw: bytes) -> bool:
    return (
        len(raw) <= 4096 and isinstance(value, dict) and ("referrer" not in value or isinstance(value["referrer"], str))
    )


def test_json_bodies(twin: Any) -> None:
    """Any JSON value: objects of at most 4 KiB (with a string referrer, if any) are counted, the rest refused."""
    start, accepted = site_hits(twin), 0

    @FUZZ
    @given(
        value=json_values | st.dictionaries(st.text(), json_values),
        content_type=st.sampled_from(
            ["text/plain", "application/json", "text/plain;charset=UTF-8", "application/json; charset=utf-8"]
        ),
    )
    def send(value: Any, content_type: str) -> None:
        nonlocal accepted
        raw = json.dumps(value).encode()
        event = hit("post", body=raw, content_type=content_type)
        if acceptable(value, raw):
            assert call(twin, event)[0] == 202
            accepted += 1
        else:
            refused(twin, event, 400)

    send()
    assert site_hits(twin) == start + accepted


def test_arbitrary_bytes_never_5xx(twin: Any) -> None:
    start, accepted = site_hits(twin), 0

    @FUZZ
    @given(raw=st.binary(max_size=5000) | st.text(max_size=300).map(str.encode))
    def send(raw: bytes) -> None:
        nonlocal accepted
        status, _ = call(twin, hit("bytes", body=raw))
        assert status in (202, 400)
        if status == 202:
            parsed = json.loads(raw) if raw.strip() else {}
            assert isinstance(parsed, dict) and len(raw) <= 4096
            accepted += 1

    send()
    assert site_hits(twin) == start + accepted


def base64_body(raw: bytes) -> dict[str, Any]:
    event = hit("b64", body=b"{}")
    event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    return event


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(base64_body(b'{"referrer": "\xc3\x28"}'), id="base64-invalid-utf8"),
        pytest.param(base64_body(b"\xff\xfe{\x00}"), id="base64-utf16ish"),
        pytest.param(base64_body(b'{"a": "\xed\xa0\x80"}'), id="base64-utf8-encoded-surrogate"),
        pytest.param({**hit("b64", body=b"{}"), "body": "!!!not base64", "isBase64Encoded": True}, id="bad-base64"),
        pytest.param(hit("raw", body=b"\xff\xfe\xfd"), id="raw-invalid-utf8"),
        pytest.param(hit("nul", body=b'{"referrer": "a\x00b"}'), id="raw-nul-in-string"),
        pytest.param(hit("nul", body=b"\x00"), id="nul-only"),
        pytest.param(hit("nul", body=b"{}\x00"), id="nul-after-object"),
        pytest.param(hit("deep", body=b"[" * 5000), id="deep-array-5000"),
        pytest.param(hit("deep", body=b"[" * 2000 + b"]" * 2000), id="deep-array-2000-closed"),
        pytest.param(hit("deep", body=b'{"a":' * 800 + b"1" + b"}" * 800), id="deep-object-800"),
        pytest.param(hit("num", body=b"1" * 4096), id="huge-bare-number"),
        pytest.param(hit("num", body=b"1" * 5000), id="huge-bare-number-over-limit"),
        pytest.param(hit("num", body=b'{"x": ' + b"9" * 4300 + b"0}"), id="int-past-python-digit-limit"),
        pytest.param(hit("num", body=b'{"x": NaN}'), id="NaN"),
        pytest.param(hit("num", body=b'{"x": -Infinity}'), id="Infinity"),
        pytest.param(hit("big", body=b'{"a": "' + b"x" * 4090 + b'"}'), id="over-4KiB"),
        pytest.param(hit("big", body=b" " * 4097), id="over-4KiB-whitespace"),
        pytest.param(hit("shape", body=b"[]"), id="array"),
        pytest.param(hit("shape", body=b'"{}"'), id="string"),
        pytest.param(hit("shape", body=b"null"), id="null"),
        pytest.param(hit("shape", body=b"true"), id="true"),
        pytest.param(hit("shape", body=b"42"), id="number"),
        pytest.param(hit("shape", body=b"{"), id="truncated"),
        pytest.param(hit("shape", body=b"{}{}"), id="two-objects"),
        pytest.param(hit("shape", body=b'{"referrer": 1}'), id="referrer-number"),
        pytest.param(hit("shape", body=b'{"referrer": null}'), id="referrer-null"),
        pytest.param(like("shape", body=b"[1]"), id="like-array"),
    ],
)
def test_bad_bodies_are_400_and_write_nothing(twin: Any, event: dict[str, Any]) -> None:
    refused(twin, event, 400)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"{}",
        b'{"referrer": "https://example.org/?q=\\u0000"}',  # an escaped NUL is valid JSON
        b'{"x": 1e999999}',  # valid JSON grammar; Python reads it as inf, and nothing uses it
        b'{"x": ' + b"1" * 4000 + b"}",
        b'{"a": "' + b"x" * 4087 + b'"}',  # exactly 4096 bytes
        '{"referrer": "https://例え.jp/"}'.encode(),
    ],
    ids=["empty", "blank", "empty-object", "escaped-nul", "1e999999", "4000-digits", "exactly-4KiB", "unicode"],
)
def test_edge_bodies_are_accepted(twin: Any, body: bytes) -> None:
    assert len(body) <= 4096
    start = site_hits(twin)
    assert call(twin, hit("edge", body=body)) == (202, {"accepted": True})
    assert site_hits(twin) == start + 1


@pytest.mark.parametrize(
    "content_type",
    [
        "application/xml",
        "text/html",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json-patch+json",
        "image/png",
        ";;;",
        "text/plainx",
    ],
)
def test_wrong_content_types_are_refused(twin: Any, content_type: str) -> None:
    refused(twin, hit("ct", body=b"{}", content_type=content_type), 415)


@pytest.mark.parametrize("content_type", ["TEXT/PLAIN;charset=UTF-8", "application/json; charset=utf-8", None])
def test_accepted_content_types(twin: Any, content_type: str | None) -> None:
    start = site_hits(twin)
    assert call(twin, hit("ct", body=b"{}", content_type=content_type))[0] == 202
    assert site_hits(twin) == start + 1


# --- query parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "top=0",
        "top=101",
        "top=abc",
        "top=-1",
        "top=1.5",
        "top=" + "9" * 5000,
        "top=",
        "top=1&top=2",  # API Gateway joins repeated parameters with commas: "1,2"
        "top=1,2",
        "from=2025-02-01&to=2025-01-01",  # from > to
        "from=2024-01-01&to=2025-01-01",  # 367 days
        "from=0001-01-01&to=9999-12-31",
        "from=2025-02-30",
        "from=2025-1-1",
        "from=20250101",
        "from=2025-01-01T00:00:00",
        "from=%D9%A2%D9%A0%D9%A2%D9%A5-01-01",  # Arabic-Indic digits match \\d, not a date
        "to=2025-01-01",  # to without from
        "from=2025-01-01&from=2025-01-02",
        "from=2025-01-01%00",
        "from=0000-00-00",
    ],
)
def test_bad_query_parameters_are_400(twin: Any, query: str) -> None:
    assert call(twin, get(f"/statistics?{query}"))[0] == 400
    if not query.startswith("top"):
        assert call(twin, get(f"/statistics/a?{query}"))[0] == 400


@pytest.mark.parametrize(
    "query", ["top=1", "top=100", "from=2024-01-01&to=2024-12-31", "from=2025-01-01&to=2025-01-01", "unknown=1"]
)
def test_good_query_parameters(twin: Any, query: str) -> None:
    assert call(twin, get(f"/statistics?{query}"))[0] == 200


@FUZZ
@given(query=st.text(max_size=60))
def test_arbitrary_query_strings_never_5xx(twin: Any, query: str) -> None:
    call(twin, get("/statistics?" + quote(query, safe="=&")))
    call(twin, get("/statistics/a?" + quote(query, safe="=&")))


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_404_json(twin: Any, method: str) -> None:
    refused(twin, api_event(method, "/statistics/a/hits", body="{}"), 404, 405)
