"""Access rules: which requests are public, bearer parsing, token and share-link checks, the hash cache, make token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from hitstream.api import auth
from hitstream.api.openapi import document

from scripts import token as token_script
from twin import owner
from twin.backend import Backend

OWNER = "k1Sx9cW4m0b6fRzJ3YtQeH8aVnLp2uGdE5oTiNw7qZA"  # the shape auth.new_token() makes


@pytest.mark.parametrize(
    ("method", "route", "params"),
    [
        ("GET", "/", None),
        ("GET", "/beacon.js", None),
        ("GET", "/openapi.json", None),
        ("GET", "/static/<name>", None),
        ("GET", "/statistics", None),
        ("GET", "/statistics", {"site": "blog.example.com"}),
        ("GET", "/statistics", {"limit": "5"}),
        ("GET", "/statistics/<slug>", None),
        ("GET", "/statistics/<slug>", {"site": "docs.example.com"}),
        ("POST", "/statistics/<slug>/hits", None),
        ("POST", "/statistics/<slug>/likes", None),
        ("OPTIONS", "/statistics", {"top": "5"}),
        ("OPTIONS", "/anything/at/all", None),
        ("HEAD", "/", None),
        ("HEAD", "/statistics", None),
    ],
)
def test_public_requests(method: str, route: str, params: dict[str, str] | None) -> None:
    assert auth.is_public(method, route, params) is True


@pytest.mark.parametrize(
    ("method", "route", "params"),
    [
        ("GET", "/statistics", {"from": "2025-01-01"}),
        ("GET", "/statistics", {"to": "2025-01-31"}),
        ("GET", "/statistics", {"from": "2025-01-01", "to": "2025-01-31"}),
        ("GET", "/statistics", {"top": "10"}),
        ("GET", "/statistics", {"breakdown": "source"}),
        ("GET", "/statistics", {"site": "blog.example.com", "top": "3", "limit": "3"}),
        ("GET", "/statistics/<slug>", {"from": "2025-01-01"}),
        ("GET", "/statistics/<slug>", {"breakdown": "source"}),
        ("GET", "/sites", None),
        ("GET", "/export", None),  # a read added later is private until listed
        ("GET", "/statistics/<slug>/daily", None),
        ("GET", "/no/such/route", None),
        ("POST", "/statistics", None),
        ("PUT", "/statistics/<slug>/hits", None),
        ("DELETE", "/", None),
        ("HEAD", "/statistics", {"top": "3"}),
        ("HEAD", "/sites", None),
    ],
)
def test_private_requests(method: str, route: str, params: dict[str, str] | None) -> None:
    assert auth.is_public(method, route, params) is False


def test_every_query_parameter_of_a_public_route_is_classified() -> None:
    """A new parameter on /statistics must be declared public or private here before it ships."""
    doc = document()
    seen: set[str] = set()
    for path in ("/statistics", "/statistics/{slug}"):
        for param in doc["paths"][path]["get"].get("parameters", []):
            if param["in"] == "query":
                seen.add(param["name"])
    assert seen, "the statistics routes declare their query parameters"
    assert seen <= auth.PUBLIC_PARAMETERS | auth.PRIVATE_PARAMETERS, seen - auth.PUBLIC_PARAMETERS


def test_public_routes_exist_as_declared() -> None:
    """The public list names routes by their declared paths; a renamed route would silently turn private."""
    from hitstream.api import openapi
    from hitstream.api.ingest_routes import router as ingest_router
    from hitstream.api.query_routes import router as query_router

    routers = (query_router, ingest_router, openapi.router)
    declared = {(key[0], method) for r in routers for key in r._routes for method in key[1]}
    for path in auth.PUBLIC_PAGES | auth.PUBLIC_TOTALS:
        assert (path, "GET") in declared, path
    for path in auth.PUBLIC_POSTS:
        assert (path, "POST") in declared, path


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"authorization": f"Bearer {OWNER}"}, OWNER),
        ({"Authorization": f"bearer {OWNER}"}, OWNER),  # the scheme is case-insensitive (RFC 7235)
        ({"authorization": f"Bearer   {OWNER}  "}, OWNER),
        ({"authorization": "Bearer abc+/def=="}, "abc+/def=="),
        ({"authorization": "Bearer share.1767225600.x-y_z"}, "share.1767225600.x-y_z"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, None),  # not a bearer credential at all
        ({"authorization": "Bearer"}, ""),
        ({"authorization": "Bearer two words"}, ""),
        ({"authorization": "Bearer tok\u00e9n"}, ""),
        ({"authorization": "Bearer =abc"}, ""),
    ],
)
def test_bearer(headers: dict[str, str], expected: str | None) -> None:
    assert auth.bearer(headers) == expected


def test_new_tokens_are_43_url_safe_characters_and_distinct() -> None:
    tokens = {auth.new_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(t) == 43 and auth.is_token(t) for t in tokens)


def test_owner_token_check() -> None:
    digest = auth.token_hash(OWNER)
    assert auth.valid(OWNER, digest) is True
    assert auth.valid(OWNER[:-1] + "B", digest) is False
    assert auth.valid(OWNER, None) is False  # no owner token set yet: nothing is valid
    assert auth.valid(digest.hex(), digest) is False  # the stored hash itself is not a credential


def test_share_links_expire_and_die_with_the_owner_token() -> None:
    digest = auth.token_hash(OWNER)
    now = 1_767_225_600
    link = auth.share_token(digest, now + 7 * 86400)
    assert link.startswith("share.")
    assert auth.is_token(link)
    assert auth.valid(link, digest, now=now) is True
    assert auth.valid(link, digest, now=now + 7 * 86400 - 1) is True
    assert auth.valid(link, digest, now=now + 7 * 86400) is False  # expired
    assert auth.valid(link, auth.token_hash(auth.new_token()), now=now) is False  # owner token rotated
    expires, signature = link.removeprefix("share.").split(".")
    assert auth.valid(f"share.{int(expires) + 86400}.{signature}", digest, now=now) is False  # extended by hand
    assert auth.valid(f"share.{expires}.{signature[:-1]}A", digest, now=now) is False
    assert auth.valid(f"share.{expires}", digest, now=now) is False
    far = auth.share_token(digest, now + (auth.MAX_SHARE_DAYS + 1) * 86400)
    assert auth.valid(far, digest, now=now) is False  # longer than the longest allowed share


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_owner_hash_is_read_once_per_ttl(backend: Backend) -> None:
    table = backend.settings.stats_table
    calls: list[str] = []
    db = boto3.client("dynamodb")
    auth.store_owner_token(table, OWNER, db)
    clock = FakeClock()
    cache = auth.OwnerHash(ttl_s=60, clock=clock)
    from hitstream.storage import clients

    clients.dynamodb().meta.events.register("before-call.dynamodb.GetItem", lambda **_: calls.append("get"))
    assert cache.get(table) == auth.token_hash(OWNER)
    clock.now += 59
    auth.store_owner_token(table, "rotated", db)
    assert cache.get(table) == auth.token_hash(OWNER)  # still cached
    assert calls == ["get"]
    clock.now += 1
    assert cache.get(table) == auth.token_hash("rotated")
    assert calls == ["get", "get"]


def test_no_owner_token_yet(backend: Backend) -> None:
    assert auth.OwnerHash().get(backend.settings.stats_table) is None


def test_only_the_hash_is_stored(backend: Backend) -> None:
    from tests.conftest import scan

    auth.store_owner_token(backend.settings.stats_table, OWNER)
    items = [i for i in scan(backend.settings.stats_table) if i["pk"]["S"] == auth.AUTH_PK]
    assert len(items) == 1
    assert items[0]["sk"]["S"] == auth.OWNER_SK
    assert items[0][auth.HASH_ATTR]["S"] == auth.token_hash(OWNER).hex()
    assert OWNER not in json.dumps(items)


# --- the twin's token and address ---


def test_twin_dashboard_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HITSTREAM_DASHBOARD", raising=False)
    assert owner.dashboard_mode() == "private"
    monkeypatch.setenv("HITSTREAM_DASHBOARD", "Public")
    assert owner.dashboard_mode() == "public"
    monkeypatch.setenv("HITSTREAM_DASHBOARD", "open")
    with pytest.raises(SystemExit, match="HITSTREAM_DASHBOARD"):
        owner.dashboard_mode()


def test_twin_token_from_env_or_new(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    table = backend.settings.stats_table
    monkeypatch.setenv("HITSTREAM_TOKEN", OWNER)
    assert owner.install_token(table) == OWNER
    assert auth.read_owner_hash(table) == auth.token_hash(OWNER)
    monkeypatch.delenv("HITSTREAM_TOKEN")
    made = owner.install_token(table)
    assert made != OWNER and len(made) == 43
    assert auth.read_owner_hash(table) == auth.token_hash(made)  # the printed token always works
    monkeypatch.setenv("HITSTREAM_TOKEN", "has space")
    with pytest.raises(SystemExit, match="HITSTREAM_TOKEN"):
        owner.install_token(table)


def test_twin_dashboard_address() -> None:
    assert owner.dashboard_address("127.0.0.1", 8000, OWNER, "private") == f"http://127.0.0.1:8000/#token={OWNER}"
    assert owner.dashboard_address("::1", 8080, OWNER, "private") == f"http://[::1]:8080/#token={OWNER}"
    assert owner.dashboard_address("localhost", 8000, OWNER, "public") == "http://localhost:8000/"


# --- make token ---

STACK_TEMPLATE = {
    "Resources": {
        "Stats": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "deployed-stats",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            },
        }
    },
    "Outputs": {
        "StatsTableName": {"Value": {"Ref": "Stats"}},
        "ApiUrl": {"Value": "https://abc123.execute-api.us-east-1.amazonaws.com/"},
    },
}


def _deploy(cloudformation: Any, name: str = "Hitstream") -> None:
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(STACK_TEMPLATE))


def test_make_token_rotates_the_deployed_owner_token(backend: Backend) -> None:
    cfn, db = boto3.client("cloudformation"), boto3.client("dynamodb")
    _deploy(cfn)
    first = token_script.run(cfn, db, "Hitstream")
    assert len(first) == 3
    token = first[1]
    assert len(token) == 43
    assert first[2] == f"Dashboard: https://abc123.execute-api.us-east-1.amazonaws.com/#token={token}"
    assert auth.read_owner_hash("deployed-stats", db) == auth.token_hash(token)
    second = token_script.run(cfn, db, "Hitstream")[1]
    assert second != token
    assert auth.read_owner_hash("deployed-stats", db) == auth.token_hash(second)


def test_make_token_share_link(backend: Backend) -> None:
    cfn, db = boto3.client("cloudformation"), boto3.client("dynamodb")
    _deploy(cfn)
    with pytest.raises(SystemExit, match="make token"):
        token_script.run(cfn, db, "Hitstream", share_days=7)  # no owner token yet
    token_script.run(cfn, db, "Hitstream")
    lines = token_script.run(cfn, db, "Hitstream", share_days=7)
    link = lines[1]
    assert link.startswith("share.")
    owner_hash = auth.read_owner_hash("deployed-stats", db)
    assert auth.valid(link, owner_hash) is True
    token_script.run(cfn, db, "Hitstream")  # rotation revokes it
    assert auth.valid(link, auth.read_owner_hash("deployed-stats", db)) is False


def test_make_token_refuses_an_unknown_stack(backend: Backend) -> None:
    with pytest.raises(SystemExit, match="cannot read stack 'Nope'"):
        token_script.run(boto3.client("cloudformation"), boto3.client("dynamodb"), "Nope")


def test_stack_name(tmp_path: Path) -> None:
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps({"context": {"stackName": "Blogs"}}))
    assert token_script.stack_name(None, cdk_json) == "Blogs"
    assert token_script.stack_name("Explicit", cdk_json) == "Explicit"
    assert token_script.stack_name(None, tmp_path / "missing.json") == "Hitstream"
    assert (
        token_script.dashboard_url({"ApiUrl": "https://x/", "EdgeUrl": "https://edge"}, "t") == "https://edge/#token=t"
    )
    assert token_script.dashboard_url({}, "t") is None
