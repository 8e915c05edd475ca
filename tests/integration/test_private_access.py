"""Private by default: every route through the real handlers on moto, with and without the owner's token."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator

import boto3
import pytest
from hitstream.api import auth
from hitstream.config import settings

from tests.builders import api_event, get, hit, like
from tests.conftest import Twin, start_twin, stop_twin
from twin.backend import Backend

OWNER = "Zq4xP0w9HnB2cV7mK3tR8yLs1dF6gJ5aE0uI9oQeW2k"
TODAY = dt.datetime.now(dt.UTC).date().isoformat()
WEEK_AGO = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=6)).isoformat()
ORIGIN = "http://localhost:4000"  # in the twin's default CORS allow-list

PUBLIC_READS = [
    ("/", 200),
    ("/beacon.js", 200),
    ("/openapi.json", 200),
    ("/static/dashboard.js", 200),
    ("/static/uPlot.min.css", 200),
    ("/static/missing.js", 404),
    ("/statistics", 200),
    ("/statistics?site=127.0.0.1", 200),
    ("/statistics?site=www.localhost", 200),
    ("/statistics?limit=5", 200),
    ("/statistics?site=unknown.example", 400),  # public route, refused for its input, not for credentials
    ("/statistics/post-1", 200),
    ("/statistics/post-1?site=127.0.0.1", 200),
    ("/statistics/no-such-post", 200),
    ("/statistics/bad%20slug", 400),
]
PRIVATE_READS = [
    f"/statistics?from={WEEK_AGO}&to={TODAY}",
    f"/statistics?from={WEEK_AGO}",
    "/statistics?top=5",
    f"/statistics?from={WEEK_AGO}&breakdown=source,country",
    f"/statistics?site=127.0.0.1&from={WEEK_AGO}&to={TODAY}&top=3&breakdown=source&limit=3",
    f"/statistics/post-1?from={WEEK_AGO}&to={TODAY}",
    f"/statistics/post-1?from={TODAY}&breakdown=source",
    f"/statistics/post-1?site=localhost&from={TODAY}&to={TODAY}&breakdown=source",
    "/sites",
]
# Private too, whatever their answer with a token would be (e.g. 400 "breakdown needs a range")
REFUSED_READS = [*PRIVATE_READS, "/statistics?breakdown=source", f"/statistics?to={TODAY}", "/statistics/post-1?top=1"]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def private() -> Iterator[Twin]:
    """One private twin for the module (a backend costs ~0.5 s); tests that change the token or mode restore them."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DASHBOARD", "private")
        backend = Backend(shards=1, seed=1)
        try:
            auth.store_owner_token(backend.settings.stats_table, OWNER)
            twin = Twin(backend)
            for slug in ("post-1", "post-2"):
                assert twin.post(hit(slug))[0] == 202
            assert twin.post(hit("post-1", ip="198.51.100.4"))[0] == 202
            twin.settle()
            assert backend.esm.dlq == [], "the aggregator failed; these tests need its counts"
            yield twin
        finally:
            backend.close()
            auth.CACHE.forget()
    settings.cache_clear()  # the next settings() reads the restored environment


@pytest.fixture
def owner_token(private: Twin) -> Iterator[str]:
    """For tests that rotate or remove the owner token: OWNER is stored again afterwards."""
    yield OWNER
    auth.store_owner_token(private.backend.settings.stats_table, OWNER)


@pytest.fixture
def public(private: Twin, monkeypatch: pytest.MonkeyPatch) -> Iterator[Twin]:
    monkeypatch.setenv("DASHBOARD", "public")
    settings.cache_clear()
    yield private
    monkeypatch.setenv("DASHBOARD", "private")
    settings.cache_clear()


@pytest.mark.parametrize(("path", "status"), PUBLIC_READS)
def test_public_reads_need_no_token(private: Twin, path: str, status: int) -> None:
    code, body, headers = private.call("query", get(path))
    assert code == status, body
    assert "www-authenticate" not in headers


def test_public_totals_are_the_real_numbers(private: Twin) -> None:
    assert private.get(get("/statistics"))[1] == {"hits": 3, "visitors": 2, "likes": 0, "articles": 2}
    assert private.get(get("/statistics/post-1"))[1] == {"slug": "post-1", "hits": 2, "visitors": 2, "likes": 0}


def test_beacons_and_preflights_need_no_token(private: Twin) -> None:
    assert private.post(hit("post-3")) == (202, {"accepted": True})
    assert private.post(like("post-3")) == (202, {"accepted": True})
    preflight = api_event(
        "OPTIONS",
        "/statistics?top=5",
        content_type=None,
        headers={"origin": ORIGIN, "access-control-request-method": "GET"},
    )
    code, _, headers = private.call("query", preflight)
    assert code == 204
    assert headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.parametrize("path", REFUSED_READS)
def test_private_reads_without_a_token_get_401(private: Twin, path: str) -> None:
    code, body, headers = private.call("query", get(path))
    assert code == 401
    assert set(body) == {"error"}
    assert headers["www-authenticate"] == "Bearer"
    assert "hits" not in body


@pytest.mark.parametrize("path", PRIVATE_READS)
def test_private_reads_with_a_wrong_token_get_401(private: Twin, path: str) -> None:
    for token in (OWNER[:-1] + "x", auth.new_token(), auth.token_hash(OWNER).hex()):
        code, body, headers = private.call("query", get(path, headers=bearer(token)))
        assert code == 401
        assert set(body) == {"error"}
        assert headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("path", PRIVATE_READS)
def test_private_reads_with_the_owner_token_get_200(private: Twin, path: str) -> None:
    code, body, headers = private.call("query", get(path, headers=bearer(OWNER)))
    assert code == 200, body
    assert headers["cache-control"] == "private, no-store"


def test_the_owner_token_reads_the_real_numbers(private: Twin) -> None:
    code, body, _ = private.call("query", get(f"/statistics?from={TODAY}&to={TODAY}&top=5", headers=bearer(OWNER)))
    assert code == 200
    assert body["hits"] == 3
    assert body["daily"] == [{"date": TODAY, "hits": 3, "visitors": 2, "likes": 0}]
    assert [(row["slug"], row["hits"]) for row in body["top"]] == [("post-1", 2), ("post-2", 1)]


@pytest.mark.parametrize(
    "header",
    [
        "Basic b3duZXI6cGFzcw==",
        "Bearer",
        f"Bearer {OWNER} extra",
        f"Token {OWNER}",
        f"Bearer\t{OWNER}",
    ],
)
def test_malformed_credentials_get_401(private: Twin, header: str) -> None:
    code, _, headers = private.call("query", get("/statistics?top=5", headers={"authorization": header}))
    assert code == 401
    assert headers["www-authenticate"] in ("Bearer", 'Bearer error="invalid_token"')


def test_unknown_reads_are_private_too(private: Twin) -> None:
    assert private.call("query", get("/export"))[0] == 401
    assert private.call("query", get("/statistics/post-1/daily"))[0] == 401
    assert private.call("query", get("/export", headers=bearer(OWNER)))[0] == 404


def test_a_malformed_private_read_gets_its_400_before_the_401(private: Twin) -> None:
    """Powertools validates parameters before any middleware runs; a 400 says nothing about the data."""
    assert private.call("query", get("/statistics?top=1000"))[0] == 400
    assert private.call("query", get("/statistics?from=last-week"))[0] == 400


def test_401_carries_cors_for_allowed_origins_only(private: Twin) -> None:
    code, _, headers = private.call("query", get("/statistics?top=5", headers={"origin": ORIGIN}))
    assert code == 401
    assert headers["access-control-allow-origin"] == ORIGIN
    code, _, headers = private.call("query", get("/statistics?top=5", headers={"origin": "https://evil.example"}))
    assert code == 401
    assert "access-control-allow-origin" not in headers


def test_public_dashboard_serves_every_read_without_a_token(public: Twin) -> None:
    for path in PRIVATE_READS:
        code, body, headers = public.call("query", get(path))
        assert code == 200, (path, body)
        assert "www-authenticate" not in headers
    assert public.call("query", get("/export"))[0] == 404


def test_no_owner_token_yet_refuses_private_reads(private: Twin, owner_token: str) -> None:
    boto3.client("dynamodb").delete_item(
        TableName=private.backend.settings.stats_table, Key={"pk": {"S": auth.AUTH_PK}, "sk": {"S": auth.OWNER_SK}}
    )
    auth.CACHE.forget()
    code, _, headers = private.call("query", get("/statistics?top=5"))
    assert code == 401
    assert headers["www-authenticate"] == "Bearer"
    code, body, headers = private.call("query", get("/statistics?top=5", headers=bearer(owner_token)))
    assert code == 401
    assert "make token" in body["error"]
    assert headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert private.call("query", get("/statistics"))[0] == 200


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rotation_elsewhere_takes_effect_within_the_cache_ttl(
    private: Twin, owner_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(auth, "CACHE", auth.OwnerHash(ttl_s=60, clock=clock))
    table = private.backend.settings.stats_table
    assert private.call("query", get("/statistics?top=5", headers=bearer(OWNER)))[0] == 200
    rotated = auth.new_token()
    # `make token` on another machine: a put this container does not see, so only the TTL ends the old token
    boto3.client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": auth.AUTH_PK},
            "sk": {"S": auth.OWNER_SK},
            auth.HASH_ATTR: {"S": auth.token_hash(rotated).hex()},
        },
    )
    clock.now = 59.0
    assert private.call("query", get("/statistics?top=5", headers=bearer(OWNER)))[0] == 200  # cached hash
    clock.now = 60.0
    assert private.call("query", get("/statistics?top=5", headers=bearer(OWNER)))[0] == 401
    assert private.call("query", get("/statistics?top=5", headers=bearer(rotated)))[0] == 200


def test_rotation_ends_share_links(private: Twin, owner_token: str) -> None:
    import time

    link = auth.share_token(auth.token_hash(OWNER), int(time.time()) + 3600)
    assert private.call("query", get("/statistics?top=5", headers=bearer(link)))[0] == 200
    expired = auth.share_token(auth.token_hash(OWNER), int(time.time()) - 1)
    assert private.call("query", get("/statistics?top=5", headers=bearer(expired)))[0] == 401
    auth.store_owner_token(private.backend.settings.stats_table, auth.new_token())
    assert private.call("query", get("/statistics?top=5", headers=bearer(link)))[0] == 401


def test_tokens_are_never_logged(
    private: Twin, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from hitstream.observability import logger

    link = auth.share_token(auth.token_hash(OWNER), 4_000_000_000)
    wrong = auth.new_token()
    level = logger.log_level
    logger.setLevel("DEBUG")
    try:
        with caplog.at_level(logging.DEBUG):
            for token in (OWNER, wrong, link):
                for path in ("/statistics?top=5", "/statistics", "/export", "/statistics?top=1000"):
                    private.call("query", get(path, headers=bearer(token)))
    finally:
        logger.setLevel(level)
    out, err = capfd.readouterr()
    text = out + err + caplog.text
    for secret in (OWNER, wrong, link, link.rsplit(".", 1)[1]):
        assert secret not in text


# --- the twin over HTTP: the printed address, HITSTREAM_TOKEN, HITSTREAM_DASHBOARD ---


@pytest.mark.e2e
def test_running_twin_prints_a_working_dashboard_address() -> None:
    twin = start_twin({"HITSTREAM_DASHBOARD": "private", "HITSTREAM_TOKEN": OWNER})
    try:
        assert f"{twin.url}/#token={OWNER}\n" in twin.output()
        assert twin.request("GET", "/statistics")[0] == 200
        assert twin.request("GET", "/")[0] == 200
        code, _, headers = twin.request("GET", "/statistics?top=5")
        assert (code, headers["www-authenticate"]) == (401, "Bearer")
        code, _, headers = twin.request("GET", "/statistics?top=5", headers=bearer("wrong"))
        assert (code, headers["www-authenticate"]) == (401, 'Bearer error="invalid_token"')
        assert twin.request("GET", "/sites", headers=bearer(OWNER))[0] == 200
        assert twin.request("GET", f"/statistics?from={TODAY}&to={TODAY}", headers=bearer(OWNER))[0] == 200
    finally:
        output = stop_twin(twin)
    assert output.count(OWNER) == 1  # printed once, at start; never in a log line


@pytest.mark.e2e
def test_running_twin_makes_a_token_when_none_is_given() -> None:
    twin = start_twin({"HITSTREAM_DASHBOARD": "private", "HITSTREAM_TOKEN": ""})
    try:
        found = re.findall(rf"^{re.escape(twin.url)}/#token=([A-Za-z0-9_-]{{43}})$", twin.output(), re.MULTILINE)
        assert len(found) == 1
        assert twin.request("GET", "/statistics?top=5", headers=bearer(found[0]))[0] == 200
        assert twin.request("GET", "/statistics?top=5", headers=bearer(OWNER))[0] == 401
    finally:
        stop_twin(twin)
