"""CORS: only allow-listed origins are echoed, "*" never is, credentials are never allowed, preflight works."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hitstream.api.resolver import AllowList
from hitstream.config import DEFAULT_LOCAL_ORIGINS

from tests.builders import get, hit
from tests.conftest import RunningTwin, Twin, start_twin, stop_twin

BLOG = "https://blog.example"


def cors(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("access-control-")}


# --- the allow-list on its own ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "origin", "allowed"),
    [
        ((BLOG,), BLOG, True),
        ((BLOG,), "https://blog.example.evil", False),
        ((BLOG,), "https://evil.blog.example", False),
        ((BLOG,), "http://blog.example", False),
        ((BLOG,), "https://blog.example:8443", False),
        ((BLOG,), "null", False),
        ((BLOG,), "", False),
        (("*",), "https://anything.example", False),  # "*" is dropped, never honoured
        (("*", BLOG), "https://anything.example", False),
        (DEFAULT_LOCAL_ORIGINS, "http://localhost:3000", True),
        (DEFAULT_LOCAL_ORIGINS, "http://127.0.0.1:8000", True),
        (DEFAULT_LOCAL_ORIGINS, "http://localhost:3000.evil.example", False),  # "*" is one port, not anything
        (DEFAULT_LOCAL_ORIGINS, "http://localhost:80@evil.example", False),
        (DEFAULT_LOCAL_ORIGINS, "http://localhost:*", False),
        (DEFAULT_LOCAL_ORIGINS, "http://localhost", False),
        (DEFAULT_LOCAL_ORIGINS, "https://localhost:3000", False),
        (DEFAULT_LOCAL_ORIGINS, "http://localhost.evil.example:3000", False),
        (("https://*.blog.example",), "https://www.blog.example", True),
        (("https://*.blog.example",), "https://a.b.blog.example", False),
        (("https://*.blog.example",), "https://evil.example/.blog.example", False),
        (("https://[ab].blog.example",), "https://a.blog.example", False),  # no other glob syntax
    ],
)
def test_allow_list(patterns: tuple[str, ...], origin: str, allowed: bool) -> None:
    allow = AllowList(patterns)
    assert allow.grants(origin) is allowed
    assert allow.allowed_origin(origin) == (origin or None)  # Powertools then asks to_dict, which decides
    headers = allow.to_dict(origin)
    assert headers.get("Vary") == ("Origin" if origin else None)  # an answer that depends on Origin says so
    assert "Access-Control-Allow-Credentials" not in headers
    if allowed:
        assert headers["Access-Control-Allow-Origin"] == origin
        assert headers["Vary"] == "Origin"
        assert "POST" in headers["Access-Control-Allow-Methods"].split(",")
    else:
        assert "Access-Control-Allow-Origin" not in headers


def test_star_is_never_echoed() -> None:
    allow = AllowList(("*",))
    assert allow.patterns == ()
    assert allow.to_dict("*") == {"Vary": "Origin"}
    assert allow.to_dict(None) == {}


# --- in-process twin, default allow-list (any http://localhost:* / http://127.0.0.1:*) -----------------


def test_twin_default_origins(twin: Twin) -> None:
    local = "http://localhost:5173"
    for function, event in (
        ("query", get("/statistics", headers={"origin": local})),
        ("ingest", hit("cors", headers={"origin": local})),
        ("ingest", hit("bad slug", headers={"origin": local})),  # errors carry CORS too, so the page can read them
    ):
        status, _, headers = twin.call(function, event)
        assert status < 500
        assert cors(headers)["access-control-allow-origin"] == local
        assert "access-control-allow-credentials" not in headers
    _, _, headers = twin.call("query", get("/statistics", headers={"origin": "https://evil.example"}))
    assert cors(headers) == {}


# --- a real twin over HTTP with ALLOWED_ORIGINS set ---------------------------------------------------


@pytest.fixture(scope="module")
def blog_twin() -> Iterator[RunningTwin]:
    twin = start_twin(env={"ALLOWED_ORIGINS": f"{BLOG}, *"})
    try:
        yield twin
    finally:
        stop_twin(twin)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/statistics"), ("GET", "/statistics/x"), ("POST", "/statistics/x/hits"), ("POST", "/statistics/x/likes")],
)
def test_allowed_origin_is_echoed(blog_twin: RunningTwin, method: str, path: str) -> None:
    body = b"{}" if method == "POST" else None
    status, _, headers = blog_twin.request(method, path, body, {"Origin": BLOG, "Content-Type": "text/plain"})
    assert status in (200, 202)
    assert headers["access-control-allow-origin"] == BLOG
    assert "origin" in headers["vary"].lower()
    assert "access-control-allow-credentials" not in headers


@pytest.mark.e2e
@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://localhost:8000", "http://127.0.0.1:3000", "null", "*", BLOG + ".evil"]
)
def test_other_origins_are_not_echoed(blog_twin: RunningTwin, origin: str) -> None:
    """With ALLOWED_ORIGINS set, the local defaults are gone, and "*" in the list means nothing."""
    for method, path in (("GET", "/statistics"), ("POST", "/statistics/x/hits"), ("OPTIONS", "/statistics/x/hits")):
        headers = {"Origin": origin, "Content-Type": "text/plain", "Access-Control-Request-Method": "POST"}
        status, _, got = blog_twin.request(method, path, b"{}" if method == "POST" else None, headers)
        assert status < 500
        assert "access-control-allow-origin" not in got, (method, got)
        assert "access-control-allow-credentials" not in got
        # the answer still depends on Origin: a shared cache must not hand it to an allowed origin, or back
        assert "origin" in got.get("vary", "").lower(), (method, got)


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/statistics/x/hits", "/statistics/x/likes", "/statistics", "/statistics/x"])
def test_preflight_for_an_allowed_origin(blog_twin: RunningTwin, path: str) -> None:
    headers = {
        "Origin": BLOG,
        "Access-Control-Request-Method": "POST" if path.endswith(("hits", "likes")) else "GET",
        "Access-Control-Request-Headers": "content-type",
    }
    status, _, got = blog_twin.request("OPTIONS", path, None, headers)
    assert status in (200, 204)
    assert got["access-control-allow-origin"] == BLOG
    assert headers["Access-Control-Request-Method"] in got["access-control-allow-methods"].split(",")
    assert "content-type" in got["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in got


@pytest.mark.e2e
def test_preflight_does_not_count(blog_twin: RunningTwin) -> None:
    blog_twin.request("OPTIONS", "/statistics/preflight-only/hits", None, {"Origin": BLOG})
    status, body, _ = blog_twin.request("GET", "/statistics/preflight-only")
    assert (status, body["hits"]) == (200, 0)


def test_an_empty_allow_list_in_the_stack_allows_no_origin_not_even_localhost(monkeypatch):
    from hitstream.config import settings

    monkeypatch.setenv("ALLOWED_ORIGINS", "")
    settings.cache_clear()
    try:
        assert settings().allowed_origins == ()
        assert "Access-Control-Allow-Origin" not in AllowList(settings().allowed_origins).to_dict(
            "http://localhost:3000"
        )
    finally:
        monkeypatch.delenv("ALLOWED_ORIGINS")
        settings.cache_clear()
    assert settings().allowed_origins == ("http://localhost:*", "http://127.0.0.1:*")
