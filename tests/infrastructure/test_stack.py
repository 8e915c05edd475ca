"""The synthesized template, resource by resource: what a reviewer would check, asserted exactly."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint
from hitstream.storage import schema

from scripts import bundle
from stacks.hitstream_stack import HitstreamStack

pytestmark = pytest.mark.xdist_group("cdk")
ORIGIN = "https://blog.example"
SITES = "blog.example.com,docs.example.com"
SITE_ORIGINS = [
    "https://blog.example.com",
    "https://www.blog.example.com",
    "https://docs.example.com",
    "https://www.docs.example.com",
]
ENV = cdk.Environment(account="123456789012", region="us-east-1")


def synth(construct_id: str = "Hitstream", region: str = "us-east-1", **context: Any) -> HitstreamStack:
    app = cdk.App(context={"sites": SITES, **context})
    s = HitstreamStack(app, construct_id, env=cdk.Environment(account="123456789012", region=region))
    cdk.Aspects.of(app).add(AwsSolutionsChecks())
    app.synth()
    return s


@pytest.fixture(scope="module")
def stack() -> HitstreamStack:
    app = cdk.App(context={"sites": SITES, "allowedOrigins": ORIGIN, "throttleRate": 50, "throttleBurst": 100})
    s = HitstreamStack(app, "Hitstream", env=ENV)
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
    assert schema.stream_windows(schema.DEFAULT_FRESHNESS_S) == (50, 900)  # state-free: the window names the shard
    assert props["MaximumBatchingWindowInSeconds"] == 50  # a record waits at most this, then is written
    assert props["TumblingWindowInSeconds"] == 900  # carries no state: it only delivers shardId, which fences key on
    assert props["ParallelizationFactor"] == 1
    assert props["StartingPosition"] == "TRIM_HORIZON"
    dlq = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queue = template.to_json()["Resources"][dlq]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 86400


def test_three_arm64_python_functions_with_the_bundled_layer_and_one_week_logs(template: Template) -> None:
    functions = template.find_resources("AWS::Lambda::Function")
    handlers = sorted(f["Properties"]["Handler"] for f in functions.values())
    assert handlers == [
        "aggregate.handler.lambda_handler",
        "ingest.handler.lambda_handler",
        "query.handler.lambda_handler",
    ]
    (layer_id, layer), *_ = template.find_resources("AWS::Lambda::LayerVersion").items()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    found = bundle.versions()
    assert layer["Properties"]["Description"].startswith("aws-lambda-powertools 3.37.0, pydantic 2.14.3, boto3 1.44.5")
    assert layer["Properties"]["Description"] == ", ".join(f"{n} {found[n]}" for n in bundle.pins(bundle.REQUIREMENTS))
    for fn in functions.values():
        p = fn["Properties"]
        assert p["Runtime"] == "python3.12"
        assert p["Architectures"] == ["arm64"]
        assert "TracingConfig" not in p  # no X-Ray: see docs/decisions.md (cold start and cost)
        assert p["Layers"] == [{"Ref": layer_id}]
        env = p["Environment"]["Variables"]
        assert env["ALLOWED_ORIGINS"] == ",".join([*SITE_ORIGINS, ORIGIN])
        assert env["SITES"] == SITES
        assert env["DASHBOARD"] == "private"
        assert env["FRESHNESS_SECONDS"] == str(schema.DEFAULT_FRESHNESS_S)
        assert set(env) >= {"EVENTS_TABLE", "STATS_TABLE", "SALTS_TABLE"}
    aggregate = next(f for f in functions.values() if f["Properties"]["Handler"].startswith("aggregate"))
    assert aggregate["Properties"]["Environment"]["Variables"]["AGGREGATE_WRITE_CONCURRENCY"] == "16"
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 4  # three functions + API access logs
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {7}


def test_salts_table_is_never_backed_up(template: Template) -> None:
    salts = [
        t["Properties"]
        for t in template.find_resources("AWS::DynamoDB::Table").values()
        if t["Properties"]["KeySchema"]
        == [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ]
        and "GlobalSecondaryIndexes" not in t["Properties"]
    ]
    assert len(salts) == 1
    assert salts[0]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}
    assert salts[0]["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert "StreamSpecification" not in salts[0]


def _table(template: Template, table: str) -> dict[str, Any]:
    env = next(iter(template.find_resources("AWS::Lambda::Function").values()))["Properties"]["Environment"]
    return {"Fn::GetAtt": [env["Variables"][f"{table.upper()}_TABLE"]["Ref"], "Arn"]}


def _grants(template: Template, function: str) -> list[tuple[list[str], Any, Any]]:
    statements = _policy_statements(template, f"Pipeline{function.title()}RoleDefaultPolicy")
    return [
        (sorted([s["Action"]] if isinstance(s["Action"], str) else s["Action"]), s["Resource"], s.get("Condition"))
        for s in statements
    ]


def _logs(template: Template, function: str) -> tuple[list[str], Any, None]:
    group = next(k for k in template.find_resources("AWS::Logs::LogGroup") if k.startswith(f"Pipeline{function}Logs"))
    return (["logs:CreateLogStream", "logs:PutLogEvents"], {"Fn::GetAtt": [group, "Arn"]}, None)


def test_ingest_upserts_events_keeps_salts_and_reads_counts(template: Template) -> None:
    assert _grants(template, "ingest") == [
        _logs(template, "Ingest"),
        (["dynamodb:UpdateItem"], _table(template, "events"), None),
        (["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"], _table(template, "salts"), None),
        (["dynamodb:GetItem"], _table(template, "stats"), None),
    ]


def test_aggregate_reads_its_stream_and_updates_stats_only(template: Template) -> None:
    events = _table(template, "events")["Fn::GetAtt"][0]
    dlq = next(iter(template.find_resources("AWS::SQS::Queue")))
    assert _grants(template, "aggregate") == [
        _logs(template, "Aggregate"),
        (["dynamodb:UpdateItem"], _table(template, "stats"), None),
        (["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"], {"Fn::GetAtt": [dlq, "Arn"]}, None),
        (["dynamodb:ListStreams"], "*", None),
        (
            ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            {"Fn::GetAtt": [events, "StreamArn"]},
            None,
        ),
    ]


def test_query_reads_stats_by_key_batch_and_rank_index(template: Template) -> None:
    stats = _table(template, "stats")
    assert _grants(template, "query") == [
        _logs(template, "Query"),
        (["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"], stats, None),
        (["dynamodb:Query"], {"Fn::Join": ["", [stats, "/index/rank"]]}, None),
    ]


def test_roles_carry_no_managed_policy(template: Template) -> None:
    roles = template.find_resources("AWS::IAM::Role")
    assert len(roles) == 3
    assert [r["Properties"].get("ManagedPolicyArns") for r in roles.values()] == [None, None, None]


def test_no_role_can_scan_or_use_wildcard_actions(template: Template) -> None:
    text = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert "dynamodb:Scan" not in text
    assert "dynamodb:*" not in text


ROUTES = [
    "GET /",
    "GET /beacon.js",
    "GET /openapi.json",
    "GET /sites",
    "GET /static/{name}",
    "GET /statistics",
    "GET /statistics/{slug}",
]
ROUTES = sorted([*ROUTES, *(r.replace("GET", "HEAD", 1) for r in ROUTES)])  # every GET route answers HEAD


def test_http_api_throttles_and_allows_only_listed_origins(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {"StageName": "$default", "DefaultRouteSettings": {"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100}},
    )
    _, api = _one(template, "AWS::ApiGatewayV2::Api")
    cors = api["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == [*SITE_ORIGINS, ORIGIN]
    assert cors["AllowCredentials"] is False
    routes = sorted(r["Properties"]["RouteKey"] for r in template.find_resources("AWS::ApiGatewayV2::Route").values())
    assert routes == sorted([*ROUTES, "POST /statistics/{slug}/hits", "POST /statistics/{slug}/likes"])
    stage = next(iter(template.find_resources("AWS::ApiGatewayV2::Stage").values()))
    log_format = stage["Properties"]["AccessLogSettings"]["Format"]
    assert "sourceIp" not in log_format and "userAgent" not in log_format
    assert template.find_resources("AWS::Lambda::Url") == {}


def test_every_get_route_of_the_query_function_is_routed() -> None:
    from hitstream.api.openapi import document

    paths = {p for p, ops in document()["paths"].items() if "get" in ops}
    assert {f"GET {p}" for p in paths} <= set(ROUTES)


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {
        k.split("Monitoring", 1)[1][:-8]: a["Properties"]
        for k, a in template.find_resources("AWS::CloudWatch::Alarm").items()
    }


def _expression(alarm: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    queries = alarm["Metrics"]
    expression = next(q["Expression"] for q in queries if q.get("ReturnData", True) and "Expression" in q)
    metrics = sorted(
        (q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"])
        for q in queries
        if "MetricStat" in q
    )
    return expression, metrics


def test_alarms_see_5xx_function_errors_aggregator_failures_lag_and_the_dlq(template: Template) -> None:
    alarms = _alarms(template)
    assert sorted(alarms) == ["AggregateFailures", "Api5xx", "DlqDepth", "FunctionErrors", "IteratorAge"]
    assert (alarms["Api5xx"]["Namespace"], alarms["Api5xx"]["MetricName"], alarms["Api5xx"]["Threshold"]) == (
        "AWS/ApiGateway",
        "5xx",
        1,
    )
    assert _expression(alarms["FunctionErrors"]) == (
        "FILL(ingest, 0) + FILL(query, 0) + FILL(aggregate, 0)",
        [("AWS/Lambda", "Errors")] * 3,
    )
    assert _expression(alarms["AggregateFailures"]) == (
        "FILL(retries, 0) + FILL(poison, 0)",
        [("Hitstream", "BatchRetries"), ("Hitstream", "PoisonRecords")],
    )
    emf = [q["MetricStat"]["Metric"]["Dimensions"] for q in alarms["AggregateFailures"]["Metrics"] if "MetricStat" in q]
    assert emf == [[{"Name": "service", "Value": "hitstream"}]] * 2  # the dimension Powertools Metrics adds
    assert (alarms["IteratorAge"]["MetricName"], alarms["IteratorAge"]["Threshold"]) == ("IteratorAge", 120_000)
    assert alarms["IteratorAge"]["ComparisonOperator"] == "GreaterThanThreshold"
    assert (alarms["DlqDepth"]["MetricName"], alarms["DlqDepth"]["Threshold"]) == (
        "ApproximateNumberOfMessagesVisible",
        1,
    )
    for name in ("Api5xx", "FunctionErrors", "AggregateFailures", "DlqDepth"):
        assert alarms[name]["Threshold"] == 1
        assert alarms[name]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert all(a["AlarmActions"] and a["TreatMissingData"] == "notBreaching" for a in alarms.values())
    metrics = sum(len([q for q in a.get("Metrics", []) if "MetricStat" in q]) or 1 for a in alarms.values())
    assert metrics == 8  # $0.80 a month (README "Alarms")


def test_freshness_sets_the_stream_windows_env_and_lag_alarm() -> None:
    template = Template.from_stack(synth("Fresh", freshnessSeconds=300))
    _, esm = _one(template, "AWS::Lambda::EventSourceMapping")
    assert (
        (esm["Properties"]["MaximumBatchingWindowInSeconds"], esm["Properties"]["TumblingWindowInSeconds"])
        == (schema.stream_windows(300))
        == (250, 900)
    )
    fn = next(iter(template.find_resources("AWS::Lambda::Function").values()))
    assert fn["Properties"]["Environment"]["Variables"]["FRESHNESS_SECONDS"] == "300"
    assert _alarms(template)["IteratorAge"]["Threshold"] == 360_000


@pytest.mark.parametrize("value", ["4", "901", "soon"])
def test_freshness_out_of_range_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="freshnessSeconds"):
        synth("BadFresh", freshnessSeconds=value)


def test_sites_are_required() -> None:
    app = cdk.App()
    with pytest.raises(ValueError, match="CDK context 'sites' is required"):
        HitstreamStack(app, "NoSites", env=ENV)


def test_a_site_that_is_not_a_hostname_is_refused() -> None:
    with pytest.raises(ValueError, match="-c sites"):
        synth("BadSites", sites="https://blog.example.com/")


def test_public_dashboard_reaches_the_functions() -> None:
    template = Template.from_stack(synth("Public", dashboard="public"))
    envs = [
        f["Properties"]["Environment"]["Variables"] for f in template.find_resources("AWS::Lambda::Function").values()
    ]
    assert [e["DASHBOARD"] for e in envs] == ["public"] * 3
    with pytest.raises(ValueError, match="dashboard"):
        synth("BadDashboard", dashboard="open")


def test_function_url_ingest_replaces_the_post_routes() -> None:
    stack = synth("Url", ingestEndpoint="functionUrl")
    template = Template.from_stack(stack)
    _, url = _one(template, "AWS::Lambda::Url")
    assert url["Properties"]["AuthType"] == "NONE"
    assert url["Properties"]["Cors"] == {
        "AllowCredentials": False,
        "AllowHeaders": ["content-type"],
        "AllowMethods": ["POST", "GET"],
        "AllowOrigins": SITE_ORIGINS,
        "MaxAge": 600,
    }
    ingest_id = url["Properties"]["TargetFunctionArn"]["Fn::GetAtt"][0]
    ingest = template.to_json()["Resources"][ingest_id]
    assert ingest["Properties"]["Handler"] == "ingest.handler.lambda_handler"
    assert "ReservedConcurrentExecutions" not in ingest["Properties"]  # opt-in: -c ingestConcurrency
    routes = sorted(r["Properties"]["RouteKey"] for r in template.find_resources("AWS::ApiGatewayV2::Route").values())
    assert routes == ROUTES
    assert "IngestUrl" in template.to_json()["Outputs"]
    api5xx = _alarms(template)["Api5xx"]
    assert _expression(api5xx) == (
        "FILL(api, 0) + FILL(url, 0)",
        [("AWS/ApiGateway", "5xx"), ("AWS/Lambda", "Url5xxCount")],
    )
    assert Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*")) == []
    matches = lint(json.dumps(template.to_json()), config=ManualArgs(regions=["us-east-1"]))
    assert [m.rule.id for m in matches if m.rule.id.startswith("E")] == []


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
    app = cdk.App(context={"sites": SITES, "allowedOrigins": "*"})
    with pytest.raises(ValueError, match="not allowed"):
        HitstreamStack(app, "Bad")


@pytest.fixture(scope="module")
def edge_template() -> Template:
    app = cdk.App(context={"sites": SITES, "allowedOrigins": ORIGIN, "wafRateLimit": 600})
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
    assert sorted(headers) == [
        "Access-Control-Request-Headers",
        "Access-Control-Request-Method",
        "CloudFront-Viewer-Address",
        "Content-Type",
        "User-Agent",
    ]
    ingest = next(
        f
        for f in edge_template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].startswith("ingest")
    )
    assert "EDGE_ORIGIN_SECRET" in ingest["Properties"]["Environment"]["Variables"]
    matches = lint(json.dumps(edge_template.to_json()), config=ManualArgs(regions=["us-east-1"]))
    assert [m.rule.id for m in matches if m.rule.id.startswith("E")] == []


def test_waf_flag_outside_us_east_1_is_refused() -> None:
    app = cdk.App(context={"sites": SITES, "wafRateLimit": 600})
    with pytest.raises(ValueError, match="needs the stack in us-east-1, not eu-west-1"):
        HitstreamStack(app, "Elsewhere", env=cdk.Environment(account="123456789012", region="eu-west-1"))


def test_waf_flag_in_a_region_agnostic_template_has_a_deploy_time_region_rule() -> None:
    app = cdk.App(context={"sites": SITES, "wafRateLimit": 600})
    template = Template.from_stack(HitstreamStack(app, "Agnostic")).to_json()
    (rule,) = [r for name, r in template["Rules"].items() if name.startswith("EdgeOnlyInUsEast1")]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}


def test_app_gives_the_stack_the_cli_region_so_the_guard_runs(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-west-1"}
    env["CDK_CONTEXT_JSON"] = json.dumps({"sites": "blog.example.com", "wafRateLimit": 600})
    env["CDK_OUTDIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "app.py"], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "-c wafRateLimit needs the stack in us-east-1, not eu-west-1" in done.stderr


def test_a_daily_schedule_makes_the_ingest_delete_expired_salts(template: Template) -> None:
    rule = template.find_resources("AWS::Events::Rule")
    ((_, props),) = ((k, r["Properties"]) for k, r in rule.items())
    assert props["ScheduleExpression"] == "cron(5 0 * * ? *)"
    ((target,),) = [props["Targets"]]
    assert json.loads(target["Input"]) == {"purge_salts": True}
    assert "Ingest" in target["Arn"]["Fn::GetAtt"][0]


def test_an_articles_pattern_reaches_the_functions_and_a_bad_one_stops_synth() -> None:
    template = Template.from_stack(synth("Articles", articles=r"20[0-9]{2}-[a-z0-9-]+"))
    envs = [
        f["Properties"]["Environment"]["Variables"] for f in template.find_resources("AWS::Lambda::Function").values()
    ]
    assert {e.get("ARTICLES") for e in envs} == {r"20[0-9]{2}-[a-z0-9-]+"}
    with pytest.raises(ValueError, match="articles"):
        synth("BadArticles", articles="(unclosed")


def test_functions_log_json_without_per_invocation_platform_lines(template: Template) -> None:
    functions = template.find_resources("AWS::Lambda::Function")
    assert len(functions) == 3
    for fn in functions.values():
        assert fn["Properties"]["LoggingConfig"] == {
            "LogFormat": "JSON",
            "SystemLogLevel": "WARN",
            "ApplicationLogLevel": "INFO",
            "LogGroup": fn["Properties"]["LoggingConfig"]["LogGroup"],
        }
