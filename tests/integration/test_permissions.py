"""Every route and the stream path run under each function's own IAM policy, read back from the synthesized
template; the policies equal the one declaration (hitstream.permissions); and every grant is needed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from botocore.exceptions import ClientError
from hitstream.audience import visitors
from hitstream.storage import permissions

from stacks.hitstream_stack import HitstreamStack
from tests.builders import get, hit, like
from tests.conftest import Twin
from tests.infrastructure.template_policies import dynamodb_grants, policies_from_template
from twin import iam
from twin.backend import Backend

pytestmark = pytest.mark.xdist_group("cdk")
TOKEN = "permissions-test-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def template_policies() -> dict[str, list[dict[str, Any]]]:
    app = cdk.App(context={"sites": "localhost,127.0.0.1"})
    stack = HitstreamStack(app, "Permissions", env=cdk.Environment(account="123456789012", region="us-east-1"))
    return policies_from_template(Template.from_stack(stack).to_json())


@contextmanager
def twin_with(policies: dict[str, list[dict[str, Any]]] | None) -> Iterator[Backend]:
    # Redelivered batches take the aggregator's fence path (it reads a counter back), as Lambda's retries do.
    backend = Backend(shards=2, seed=7, redelivery_rate=0.5, env={"HITSTREAM_TOKEN": TOKEN}, policies=policies)
    try:
        yield backend
    finally:
        backend.close()


def drive(backend: Backend) -> dict[str, int]:
    """Every route, and the stream between them; returns each request's status."""
    twin = Twin(backend)
    today = dt.datetime.now(dt.UTC).date()
    week = f"from={(today - dt.timedelta(days=6)).isoformat()}&to={today.isoformat()}"
    out: dict[str, int] = {}
    for i, slug in enumerate(["first", "first", "second", "third"]):
        out[f"hit {i}"] = twin.call("ingest", hit(slug, ip=f"198.51.100.{i}"))[0]
        visitors.forget_salts()  # the next hit lands on another ingest instance, which reads the day's salt back
    out["hit asking for counts"] = twin.call("ingest", hit("first", body=json.dumps({"counts": True})))[0]
    out["like"] = twin.call("ingest", like("first"))[0]
    twin.settle()  # the aggregate function, under its own role
    for path in (
        "/statistics",
        "/statistics?top=5",
        f"/statistics?{week}",
        f"/statistics?{week}&top=5",
        "/statistics/first",
        f"/statistics/first?{week}",
        "/sites",
        "/",
        "/beacon.js",
        "/openapi.json",
    ):
        out[f"GET {path}"] = twin.call("query", get(path, headers=AUTH))[0]
    return out


def test_the_template_grants_exactly_the_declared_permissions(
    template_policies: dict[str, list[dict[str, Any]]],
) -> None:
    with twin_with(None) as backend:
        declared = backend.iam.policies
    assert set(template_policies) == set(permissions.FUNCTIONS)
    for function in permissions.FUNCTIONS:
        assert dynamodb_grants(template_policies[function]) == dynamodb_grants(declared[function]), function
    assert ("dynamodb:BatchGetItem", iam.table_arn("hitstream-stats"), "[]") in dynamodb_grants(
        template_policies["query"]
    )


def test_every_route_and_the_stream_run_under_the_deployed_roles(
    template_policies: dict[str, list[dict[str, Any]]],
) -> None:
    with twin_with(template_policies) as backend:
        statuses = drive(backend)
        assert backend.iam.denials == []
        assert {k: v for k, v in statuses.items() if v >= 500} == {}
        assert [k for k, v in statuses.items() if k.startswith(("hit", "like")) and v != 202] == []
        core = [k for k in statuses if k.startswith("GET") and "/sites" not in k]
        assert {k: statuses[k] for k in core} == dict.fromkeys(core, 200)
        assert Twin(backend).get(get("/statistics?top=5", headers=AUTH))[1]["top"][0]["slug"] == "first"
        functions = {function for function, _ in backend.iam.checked}
        assert functions == {"ingest", "query", "aggregate"}  # each ran under its own role, worker threads too


# Grants whose call no scenario in drive() reaches yet. Strict: once drive() reaches it, the XPASS fails and the
# entry must go. The aggregate's read-back (aggregate.Batch._read) runs only when a fence conflict comes back
# without the old item, which none of the requests above provokes.
UNREACHED: dict[tuple[str, str], str] = {}  # a grant no request reaches would be one to drop
GRANTS = [
    pytest.param(
        i,
        action,
        id=f"{g.function}-{action}",
        marks=[pytest.mark.xfail(strict=True, reason=UNREACHED[(g.function, action)])]
        if (g.function, action) in UNREACHED
        else [],
    )
    for i, g in enumerate(permissions.GRANTS)
    for action in g.actions
]


@pytest.mark.parametrize(("index", "action"), GRANTS)
def test_removing_any_one_grant_makes_something_fail(index: int, action: str) -> None:
    grant = permissions.GRANTS[index]
    fewer = tuple(a for a in grant.actions if a != action)
    grants = list(permissions.GRANTS)
    if fewer:
        grants[index] = dataclasses.replace(grant, actions=fewer)
    else:
        del grants[index]
    with twin_with(None) as probe:
        names = {"events": probe.settings.events_table, "stats": probe.settings.stats_table}
        names["salts"] = probe.settings.salts_table or names["stats"]
    policies = {
        fn: permissions.statements(fn, lambda t: iam.table_arn(names[t]), tuple(grants)) for fn in permissions.FUNCTIONS
    }
    with twin_with(policies) as backend:
        drive(backend)
        denied = [d for d in backend.iam.denials if f"perform: dynamodb:{action} " in d]
        assert denied, f"nothing needed {grant.function}'s dynamodb:{action} on {grant.table}"
        assert f"function '{grant.function}'" in denied[0]
        assert iam.table_arn(names[grant.table]) in denied[0]


def test_a_denied_call_names_the_function_the_action_and_the_resource() -> None:
    policies = {"query": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": iam.table_arn("t")}]}
    enforcer = iam.Enforcer(policies, {"t": {None: "pk", "rank": "rk"}})
    with iam.acting_as("query"), pytest.raises(ClientError) as err:
        enforcer._before_call(
            model=type("M", (), {"name": "BatchGetItem"})(),
            params={"body": json.dumps({"RequestItems": {"t": {"Keys": [{"pk": {"S": "A#x"}}]}}}).encode()},
        )
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    message = err.value.response["Error"]["Message"]
    assert "function 'query'" in message
    assert "dynamodb:BatchGetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/t" in message
    assert "A#x" in message


def test_leading_keys_indexes_batches_and_explicit_denies_follow_iam() -> None:
    stats = iam.table_arn("stats")
    policies = {
        "ingest": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem"],
                "Resource": stats,
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["SALT"]}},
            },
            {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": f"{stats}/index/rank"},
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": iam.table_arn("other")},
            {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"},
        ]
    }
    e = iam.Enforcer(policies, {"stats": {None: "pk", "rank": "rk"}, "other": {None: "pk"}})

    def allowed(operation: str, params: dict[str, Any]) -> bool:
        return all(e.allows("ingest", check) for check in e.checks(operation, params))

    salt, count = {"pk": {"S": "SALT"}, "sk": {"S": "2026-01-01"}}, {"pk": {"S": "S#blog"}, "sk": {"S": "TOTAL"}}
    assert allowed("GetItem", {"TableName": "stats", "Key": salt})
    assert not allowed("GetItem", {"TableName": "stats", "Key": count})
    assert allowed("PutItem", {"TableName": "stats", "Item": {**salt, "v": {"B": "AA=="}}})
    assert allowed("BatchGetItem", {"RequestItems": {"stats": {"Keys": [salt]}, "other": {"Keys": [count]}}})
    assert not allowed("BatchGetItem", {"RequestItems": {"stats": {"Keys": [salt, count]}}})
    index_query = {"TableName": "stats", "IndexName": "rank", "KeyConditionExpression": "rk = :r"}
    assert allowed("Query", {**index_query, "ExpressionAttributeValues": {":r": {"S": "ALL"}}})
    assert not allowed("Query", {"TableName": "stats", "KeyConditionExpression": "pk = :p"})
    assert allowed("UpdateItem", {"TableName": "other", "Key": count})
    assert not allowed("DeleteItem", {"TableName": "other", "Key": count})  # an explicit Deny wins
    assert not allowed("Scan", {"TableName": "stats"})
