"""Issue 22: the stack deploys on a new account, the edge serves private reads and cannot be walked around, and
limits that CloudFormation would hit at deploy fail at synth instead, naming `sites`."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint

from stacks import edge, limits
from stacks.hitstream_stack import HitstreamStack
from stacks.settings import ContextError

pytestmark = pytest.mark.xdist_group("cdk")
SITES = "blog.example.com,docs.example.com"


def synth(construct_id: str, **context: Any) -> HitstreamStack:
    app = cdk.App(context={"sites": SITES, **context})
    s = HitstreamStack(app, construct_id, env=cdk.Environment(account="123456789012", region="us-east-1"))
    cdk.Aspects.of(app).add(AwsSolutionsChecks())
    app.synth()
    return s


def _sites(n: int) -> str:
    return ",".join(f"site{i:03d}.example.com" for i in range(n))  # 19 characters each


def _functions(template: Template) -> dict[str, Any]:
    return template.find_resources("AWS::Lambda::Function")


def _clean(stack: HitstreamStack) -> None:
    assert Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*")) == []
    assert Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("AwsSolutions-.*")) == []
    matches = lint(json.dumps(Template.from_stack(stack).to_json()), config=ManualArgs(regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")] == []


@pytest.mark.parametrize("endpoint", ["httpApi", "functionUrl"])
def test_no_function_reserves_concurrency_by_default(endpoint: str) -> None:
    template = Template.from_stack(synth(f"New{endpoint}", ingestEndpoint=endpoint))
    assert [f for f in _functions(template).values() if "ReservedConcurrentExecutions" in f["Properties"]] == []


def test_reserved_concurrency_is_an_opt_in_for_ingest_only() -> None:
    stack = synth("Reserved", ingestEndpoint="functionUrl", ingestConcurrency=40)
    reserved = {
        f["Properties"]["Handler"]: f["Properties"]["ReservedConcurrentExecutions"]
        for f in _functions(Template.from_stack(stack)).values()
        if "ReservedConcurrentExecutions" in f["Properties"]
    }
    assert reserved == {"ingest.handler.lambda_handler": 40}
    _clean(stack)


@pytest.mark.parametrize("raw", ["0", "-5", "many", "10001"])
def test_a_bad_ingest_concurrency_stops_synth(raw: str) -> None:
    with pytest.raises(ContextError, match="ingestConcurrency"):
        synth(f"BadConcurrency{abs(hash(raw))}", ingestConcurrency=raw)


def test_function_url_origins_past_100_fail_at_synth_naming_sites() -> None:
    synth("Fifty", sites=_sites(45), ingestEndpoint="functionUrl")  # 90 origins: fine
    with pytest.raises(ContextError, match=r"^-c sites: 51 sites .* make 102 CORS origins .* over the 100"):
        synth("FiftyOne", sites=_sites(51), ingestEndpoint="functionUrl")
    with pytest.raises(ContextError, match=r"^-c sites: 50 sites .* make 101 CORS origins"):
        synth("FiftyPlus", sites=_sites(50), ingestEndpoint="functionUrl", allowedOrigins="https://extra.example")


def test_an_environment_over_4_kb_fails_at_synth_naming_sites() -> None:
    with pytest.raises(ContextError, match=r"^-c sites: 48 sites .* over Lambda's 4096 bytes"):
        synth("Crowded", sites=_sites(48))


def test_the_largest_stack_that_passes_stays_under_4_kb_with_every_value_known() -> None:
    """The estimate bounds what CloudFormation will fill in: the real names are no longer than assumed."""
    stack = synth("Hitstream", sites=_sites(44), wafRateLimit=600)
    for fn in _functions(Template.from_stack(stack)).values():
        variables = fn["Properties"]["Environment"]["Variables"]
        assert limits.environment_bytes(variables, stack) <= 4096
    # a generated table name is stack-logicalid-13chars: "Hitstream-StorageEvents1AF1C090-" + 13
    ref = {"Ref": "StorageEvents1AF1C090"}
    assert limits._deploy_time_chars(ref, stack) == len("Hitstream-StorageEvents1AF1C090-ABCDEFGHIJKLM")
    assert limits.environment_bytes({"A": "b", "T": ref}, stack) == len('{"A":"b","T":""}') + 45


def test_environment_bytes_count_json_and_grow_with_every_character() -> None:
    stack = cdk.Stack()
    assert limits.environment_bytes({}, stack) == 2
    assert limits.environment_bytes({"SITES": "a"}, stack) == len('{"SITES":"a"}')
    assert limits.environment_bytes({"X": {"Fn::GetAtt": ["A", "B"]}}, stack) == len('{"X":""}') + 255


# The edge: private reads reach the API with their Authorization header, and the API answers only CloudFront.


@pytest.fixture(scope="module")
def edge_stack() -> HitstreamStack:
    return synth("HitstreamEdge", wafRateLimit=600)


def test_edge_forwards_authorization_and_caches_nothing_private(edge_stack: HitstreamStack) -> None:
    template = Template.from_stack(edge_stack)
    (policy,) = template.find_resources("AWS::CloudFront::CachePolicy").values()
    config = policy["Properties"]["CachePolicyConfig"]
    assert (config["MinTTL"], config["DefaultTTL"], config["MaxTTL"]) == (0, 0, 1)
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Authorization", "Origin"]}
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    (dist,) = template.find_resources("AWS::CloudFront::Distribution").values()
    behavior = dist["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    assert behavior["CachePolicyId"] == {"Ref": next(iter(template.find_resources("AWS::CloudFront::CachePolicy")))}
    assert behavior["CachePolicyId"] != "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # not CachingDisabled


def test_behind_the_edge_every_route_answers_only_requests_with_the_origin_secret(edge_stack: HitstreamStack) -> None:
    template = Template.from_stack(edge_stack)
    (authorizer_id, authorizer), *more = template.find_resources("AWS::ApiGatewayV2::Authorizer").items()
    assert more == []
    props = authorizer["Properties"]
    assert props["AuthorizerType"] == "REQUEST"
    assert props["IdentitySource"] == ["$request.header.X-Hitstream-Origin"]
    assert props["AuthorizerResultTtlInSeconds"] == 3600
    assert props["EnableSimpleResponses"] is True
    routes = template.find_resources("AWS::ApiGatewayV2::Route")
    assert len(routes) == 16
    assert {r["Properties"]["AuthorizationType"] for r in routes.values()} == {"CUSTOM"}
    assert {r["Properties"]["AuthorizerId"]["Ref"] for r in routes.values()} == {authorizer_id}
    # the gate compares with the same secret CloudFront sends
    (dist,) = template.find_resources("AWS::CloudFront::Distribution").values()
    (header,) = dist["Properties"]["DistributionConfig"]["Origins"][0]["OriginCustomHeaders"]
    gate = next(f for f in _functions(template).values() if f["Properties"]["Handler"] == "index.handler")
    assert gate["Properties"]["Environment"]["Variables"]["ORIGIN_SECRET"] == header["HeaderValue"]
    assert gate["Properties"]["Code"]["ZipFile"] == edge.GATE_SOURCE
    outputs = template.to_json()["Outputs"]
    assert outputs["ApiUrl"]["Description"] == "Answers only CloudFront: use EdgeUrl"
    _clean(edge_stack)


def test_without_the_edge_no_route_has_an_authorizer() -> None:
    template = Template.from_stack(synth("Open"))
    assert template.find_resources("AWS::ApiGatewayV2::Authorizer") == {}
    routes = template.find_resources("AWS::ApiGatewayV2::Route").values()
    assert {r["Properties"].get("AuthorizationType", "NONE") for r in routes} == {"NONE"}


def _gate() -> Any:
    namespace: dict[str, Any] = {}
    import os

    os.environ["ORIGIN_SECRET"] = "3f1c0e2a-1111-2222-3333-444455556666"
    try:
        exec(compile(edge.GATE_SOURCE, "index.py", "exec"), namespace)  # the inline authorizer, as Lambda runs it
    finally:
        del os.environ["ORIGIN_SECRET"]
    return namespace["handler"]


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"x-hitstream-origin": "3f1c0e2a-1111-2222-3333-444455556666"}, True),
        ({"x-hitstream-origin": "3f1c0e2a-1111-2222-3333-444455556667"}, False),
        ({"x-hitstream-origin": ""}, False),
        ({"x-hitstream-origin": "3f1c0e2a-1111-2222-3333-444455556666 "}, False),
        ({"x-hitstream-origin": "é" * 40}, False),
        ({"authorization": "Bearer 3f1c0e2a-1111-2222-3333-444455556666"}, False),
        ({}, False),
        (None, False),
    ],
)
def test_the_gate_passes_only_the_exact_secret(headers: dict[str, str] | None, allowed: bool) -> None:
    assert _gate()({"version": "2.0", "headers": headers}, None) == {"isAuthorized": allowed}
