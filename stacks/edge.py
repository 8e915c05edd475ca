"""Optional edge: CloudFront in front of the HTTP API with an AWS WAF rate-based rule per client IP.

AWS WAF cannot attach to an HTTP API, so `-c wafRateLimit=<requests per 5 min per IP>` puts a CloudFront
distribution (CLOUDFRONT-scope web ACL, hence us-east-1) in front of it. CloudFront connects to the API from
its own addresses, so it passes the viewer's address in CloudFront-Viewer-Address plus a per-stack secret
header; ingest trusts the former only with the latter (see hitstream.api.ingest_routes.client_ip).

The API's own execute-api address must not be a way around the WAF. Disabling it would leave CloudFront no way
in either, short of a custom domain and certificate, so every route instead has a Lambda authorizer that passes
only requests carrying the secret header: API Gateway answers 401 by itself when the header is absent, and the
authorizer's verdict is cached per header value for an hour (docs/decisions.md, "The edge").
"""

from __future__ import annotations

from aws_cdk import Aws, CfnRule, CfnRuleAssertion, Duration, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudfront as cf
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as waf
from aws_cdk.aws_apigatewayv2_authorizers import HttpLambdaAuthorizer, HttpLambdaResponseType
from constructs import Construct

from stacks.api import Api

VIEWER_ADDRESS_HEADER = "CloudFront-Viewer-Address"
ORIGIN_SECRET_HEADER = "X-Hitstream-Origin"
GATE_CACHE = Duration.hours(1)  # the longest an HTTP API caches an authorizer's answer

# The whole authorizer (payload 2.0, simple response): a constant-time comparison with the stack's secret.
GATE_SOURCE = """\
import hmac
import os

SECRET = os.environ["ORIGIN_SECRET"].encode()


def handler(event, context):
    sent = (event.get("headers") or {}).get("x-hitstream-origin", "")
    return {"isAuthorized": hmac.compare_digest(sent.encode(), SECRET)}
"""


def origin_secret(stack: Stack) -> str:
    """The stack id's UUID: unique per deployment, never published, so it can mark requests from CloudFront."""
    return Fn.select(2, Fn.split("/", stack.stack_id))


def origin_gate(scope: Construct, construct_id: str, *, secret: str) -> apigw.IHttpRouteAuthorizer:
    """An authorizer that lets through only requests carrying the edge's secret header."""
    log_group = logs.LogGroup(
        scope, f"{construct_id}Logs", retention=logs.RetentionDays.ONE_WEEK, removal_policy=RemovalPolicy.DESTROY
    )
    role = iam.Role(scope, f"{construct_id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(
        iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn])
    )
    gate = lambda_.Function(
        scope,
        construct_id,
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.ARM_64,
        handler="index.handler",
        code=lambda_.Code.from_inline(GATE_SOURCE),
        role=role,
        memory_size=128,
        timeout=Duration.seconds(3),
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        system_log_level_v2=lambda_.SystemLogLevel.WARN,
        environment={"ORIGIN_SECRET": secret},
    )
    return HttpLambdaAuthorizer(
        "OriginGate",
        gate,
        response_types=[HttpLambdaResponseType.SIMPLE],
        identity_source=[f"$request.header.{ORIGIN_SECRET_HEADER}"],
        results_cache_ttl=GATE_CACHE,
    )


class Edge(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, api: Api, rate_limit: int, secret: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if not Token.is_unresolved(stack.region) and stack.region != "us-east-1":
            raise ValueError(
                f"-c wafRateLimit needs the stack in us-east-1, not {stack.region}: its CLOUDFRONT-scope web ACL can "
                "only be created there. Deploy to us-east-1 (AWS_REGION / --profile) or drop -c wafRateLimit."
            )
        # A region-agnostic template (no region known at synth) still refuses to deploy elsewhere.
        CfnRule(
            self,
            "OnlyInUsEast1",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_equals(Aws.REGION, "us-east-1"),
                    assert_description="-c wafRateLimit needs the stack in us-east-1 (CloudFront web ACLs live there)",
                )
            ],
        )
        self.origin_secret = secret
        self.web_acl = waf.CfnWebACL(
            self,
            "WebAcl",
            scope="CLOUDFRONT",
            default_action=waf.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=waf.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name="hitstream-edge", sampled_requests_enabled=False
            ),
            rules=[
                waf.CfnWebACL.RuleProperty(
                    name="rate-per-ip",
                    priority=0,
                    action=waf.CfnWebACL.RuleActionProperty(block={}),
                    statement=waf.CfnWebACL.StatementProperty(
                        rate_based_statement=waf.CfnWebACL.RateBasedStatementProperty(
                            limit=rate_limit, aggregate_key_type="IP", evaluation_window_sec=300
                        )
                    ),
                    visibility_config=waf.CfnWebACL.VisibilityConfigProperty(
                        cloud_watch_metrics_enabled=True, metric_name="rate-per-ip", sampled_requests_enabled=False
                    ),
                )
            ],
        )
        # CloudFront forwards Authorization only as part of a cache key, and a policy that may cache nothing (all
        # TTLs 0) may not have one; so the key holds Authorization, Origin and the query, and an answer may be
        # kept at most 1 s, only if the API marks it cacheable (private reads are `private, no-store`).
        passthrough = cf.CachePolicy(
            self,
            "PassAuthorization",
            comment="hitstream: the API decides; Authorization reaches it",
            min_ttl=Duration.seconds(0),
            default_ttl=Duration.seconds(0),
            max_ttl=Duration.seconds(1),
            header_behavior=cf.CacheHeaderBehavior.allow_list("Authorization", "Origin"),
            query_string_behavior=cf.CacheQueryStringBehavior.all(),
            cookie_behavior=cf.CacheCookieBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        forward = cf.OriginRequestPolicy(
            self,
            "Forward",
            header_behavior=cf.OriginRequestHeaderBehavior.allow_list(
                VIEWER_ADDRESS_HEADER,
                "User-Agent",
                "Content-Type",
                "Access-Control-Request-Method",
                "Access-Control-Request-Headers",
            ),
            query_string_behavior=cf.OriginRequestQueryStringBehavior.all(),
            cookie_behavior=cf.OriginRequestCookieBehavior.none(),
        )
        api_domain = Fn.select(2, Fn.split("/", api.http_api.api_endpoint))
        self.distribution = cf.Distribution(
            self,
            "Distribution",
            comment="hitstream: WAF rate limiting in front of the HTTP API",
            default_behavior=cf.BehaviorOptions(
                origin=origins.HttpOrigin(
                    api_domain,
                    protocol_policy=cf.OriginProtocolPolicy.HTTPS_ONLY,
                    custom_headers={ORIGIN_SECRET_HEADER: self.origin_secret},
                ),
                allowed_methods=cf.AllowedMethods.ALLOW_ALL,
                cache_policy=passthrough,
                origin_request_policy=forward,
                viewer_protocol_policy=cf.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            ),
            price_class=cf.PriceClass.PRICE_CLASS_100,
            web_acl_id=self.web_acl.attr_arn,
        )

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}/"
