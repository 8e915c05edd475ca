"""The synthesized template, resource by resource: what a reviewer would check, asserted exactly."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint
from hitstream import schema

from stacks.hitstream_stack import HitstreamStack

pytestmark = pytest.mark.xdist_group("cdk")
ORIGIN = "https://blog.example"


@pytest.fixture(scope="module")
def stack() -> HitstreamStack:
    app = cdk.App(context={"allowedOrigins": ORIGIN, "throttleRate": 50, "throttleBurst": 100})
    s = HitstreamStack(app, "Hitstream", env=cdk.Environment(account="123456789012", region="us-east-1"))
    cdk.Aspects.of(app).add(AwsSolutionsChecks())
    app.synth()
    return s


@pytest.fixture(scope="module")
def template(stack: HitstreamStack) -> Template:
    return Template.from_stack(stack)


def _one(template: Template, kind: str, props: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(kind, {"Properties": props} if props else None)
    assert len(found) == 1, f"expected one {kind}, found {list(found)}"
    return next(iter(found.items()))


def _policy_statements(template: Template, function_logical_prefix: str) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::Policy")
    out = []
    for logical_id, policy in policies.items():
        if logical_id.startswith(function_logical_prefix):
            out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    acts: set[str] = set()
    for st in statements:
        a = st["Action"]
        acts.update([a] if isinstance(a, str) else a)
    return acts


def test_events_table_has_ttl_stream_and_encryption(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "SSESpecification": {"SSEEnabled": True},
            "BillingMode": "PAY_PER_REQUEST",
        },
    )


def test_stats_table_is_retained_with_pitr_and_the_rank_index(template: Template) -> None:
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "SSESpecification": {"SSEEnabled": True},
                    "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": "rank",
                            "KeySchema": [
                                {"AttributeName": "rk", "KeyType": "HASH"},
                                {"AttributeName": "rb", "KeyType": "RANGE"},
                            ],
                            "Projection": {"ProjectionType": "KEYS_ONLY"},
                        }
                    ],
                }
            ),
        },
    )


def test_stream_source_filters_ttl_deletes_bisects_and_bounds_retries(template: Template) -> None:
    _, esm = _one(template, "AWS::Lambda::EventSourceMapping")
    props = esm["Properties"]
    assert json.loads(props["FilterCriteria"]["Filters"][0]["Pattern"]) == {"eventName": ["INSERT", "MODIFY"]}
    assert props["BisectBatchOnFunctionError"] is True
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["MaximumRetryAttempts"] == schema.STREAM_RETRY_ATTEMPTS == 10
    assert props["MaximumRecordAgeInSeconds"] == 21600
    assert props["BatchSize"] == 5000
    assert props["MaximumBatchingWindowInSeconds"] == 5
    assert props["TumblingWindowInSeconds"] == 60  # delivers shardId, which the fences key on
    assert props["ParallelizationFactor"] == 1
    assert props["StartingPosition"] == "TRIM_HORIZON"
    dlq = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queue = template.to_json()["Resources"][dlq]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 86400


def test_three_arm64_python_functions_with_powertools_and_one_week_logs(template: Template) -> None:
    functions = template.find_resources("AWS::Lambda::Function")
    handlers = sorted(f["Properties"]["Handler"] for f in functions.values())
    assert handlers == [
        "aggregate.handler.lambda_handler",
        "ingest.handler.lambda_handler",
        "query.handler.lambda_handler",
    ]
    for fn in functions.values():
        p = fn["Properties"]
        assert p["Runtime"] == "python3.12"
        assert p["Architectures"] == ["arm64"]
        assert "TracingConfig" not in p  # no X-Ray: see docs/decisions.md (cold start and cost)
        assert "AWSLambdaPowertoolsPythonV3-python312-arm64" in json.dumps(p["Layers"])
        assert p["Environment"]["Variables"]["ALLOWED_ORIGINS"] == ORIGIN
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 4  # three functions + API access logs
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {7}


def test_ingest_can_only_upsert_events_and_touch_salts(template: Template) -> None:
    statements = _policy_statements(template, "PipelineIngestServiceRoleDefaultPolicy")
    assert _actions(statements) == {"dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:GetItem"}
    salt = [s for s in statements if "Condition" in s]
    assert len(salt) == 1
    assert salt[0]["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["SALT"]}}
    assert sorted(salt[0]["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem"]


def test_aggregate_reads_its_stream_and_updates_stats_only(template: Template) -> None:
    statements = _policy_statements(template, "PipelineAggregateServiceRoleDefaultPolicy")
    assert _actions(statements) == {
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:ListStreams",
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }


def test_query_can_only_read_stats(template: Template) -> None:
    statements = _policy_statements(template, "PipelineQueryServiceRoleDefaultPolicy")
    assert _actions(statements) == {"dynamodb:GetItem", "dynamodb:Query"}


def test_no_role_can_scan_or_use_wildcard_actions(template: Template) -> None:
    text = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert "dynamodb:Scan" not in text
    assert "dynamodb:*" not in text


def test_http_api_throttles_and_allows_only_listed_origins(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {"StageName": "$default", "DefaultRouteSettings": {"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100}},
    )
    _, api = _one(template, "AWS::ApiGatewayV2::Api")
    cors = api["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == [ORIGIN]
    assert cors["AllowCredentials"] is False
    routes = sorted(r["Properties"]["RouteKey"] for r in template.find_resources("AWS::ApiGatewayV2::Route").values())
    assert routes == sorted(
        [
            "POST /statistics/{slug}/hits",
            "POST /statistics/{slug}/likes",
            "GET /",
            "GET /beacon.js",
            "GET /openapi.json",
            "GET /static/{name}",
            "GET /statistics",
            "GET /statistics/{slug}",
        ]
    )
    stage = next(iter(template.find_resources("AWS::ApiGatewayV2::Stage").values()))
    log_format = stage["Properties"]["AccessLogSettings"]["Format"]
    assert "sourceIp" not in log_format and "userAgent" not in log_format


def test_alarms_on_iterator_age_errors_and_dlq_depth(template: Template) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    by_metric = sorted((a["Properties"]["MetricName"], a["Properties"]["Threshold"]) for a in alarms.values())
    assert by_metric == [
        ("ApproximateNumberOfMessagesVisible", 1),
        ("Errors", 1),
        ("Errors", 1),
        ("Errors", 1),
        ("IteratorAge", 300000),
    ]
    assert all(a["Properties"]["AlarmActions"] for a in alarms.values())


def test_cdk_nag_has_no_unsuppressed_findings(stack: HitstreamStack) -> None:
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [e.entry.data for e in errors] == []
    assert [w.entry.data for w in warnings] == []


def test_cfn_lint_reports_no_errors(template: Template) -> None:
    matches = lint(json.dumps(template.to_json()), config=ManualArgs(regions=["us-east-1"]))
    errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def test_star_is_refused_as_an_allowed_origin() -> None:
    app = cdk.App(context={"allowedOrigins": "*"})
    with pytest.raises(ValueError, match="not allowed"):
        HitstreamStack(app, "Bad")


@pytest.fixture(scope="module")
def edge_template() -> Template:
    app = cdk.App(context={"allowedOrigins": ORIGIN, "wafRateLimit": 600})
    s = HitstreamStack(app, "HitstreamEdge", env=cdk.Environment(account="123456789012", region="us-east-1"))
    cdk.Aspects.of(app).add(AwsSolutionsChecks())
    app.synth()
    assert Annotations.from_stack(s).find_error("*", Match.string_like_regexp("AwsSolutions-.*")) == []
    return Template.from_stack(s)


def test_no_edge_unless_asked(template: Template) -> None:
    assert template.find_resources("AWS::WAFv2::WebACL") == {}
    assert template.find_resources("AWS::CloudFront::Distribution") == {}


def test_waf_flag_puts_a_per_ip_rate_rule_in_front_of_the_api(edge_template: Template) -> None:
    _, acl = _one(edge_template, "AWS::WAFv2::WebACL")
    props = acl["Properties"]
    assert props["Scope"] == "CLOUDFRONT"
    assert props["DefaultAction"] == {"Allow": {}}
    (rule,) = props["Rules"]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"]["RateBasedStatement"] == {
        "Limit": 600,
        "AggregateKeyType": "IP",
        "EvaluationWindowSec": 300,
    }
    _, dist = _one(edge_template, "AWS::CloudFront::Distribution")
    config = dist["Properties"]["DistributionConfig"]
    assert config["WebACLId"] == {"Fn::GetAtt": [next(iter(edge_template.find_resources("AWS::WAFv2::WebACL"))), "Arn"]}
    origin = config["Origins"][0]
    assert origin["OriginCustomHeaders"][0]["HeaderName"] == "X-Hitstream-Origin"
    _, policy = _one(edge_template, "AWS::CloudFront::OriginRequestPolicy")
    headers = policy["Properties"]["OriginRequestPolicyConfig"]["HeadersConfig"]["Headers"]
    assert "CloudFront-Viewer-Address" in headers and "User-Agent" in headers
    ingest = next(
        f
        for f in edge_template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].startswith("ingest")
    )
    assert "EDGE_ORIGIN_SECRET" in ingest["Properties"]["Environment"]["Variables"]
    matches = lint(json.dumps(edge_template.to_json()), config=ManualArgs(regions=["us-east-1"]))
    assert [m.rule.id for m in matches if m.rule.id.startswith("E")] == []


def test_waf_flag_outside_us_east_1_is_refused() -> None:
    app = cdk.App(context={"wafRateLimit": 600})
    with pytest.raises(ValueError, match="us-east-1"):
        HitstreamStack(app, "Elsewhere", env=cdk.Environment(account="123456789012", region="eu-west-1"))
