"""Optional edge: CloudFront in front of the HTTP API with an AWS WAF rate-based rule per client IP.

AWS WAF cannot attach to an HTTP API, so `-c wafRateLimit=<requests per 5 min per IP>` puts a CloudFront
distribution (CLOUDFRONT-scope web ACL, hence us-east-1) in front of it. CloudFront connects to the API from
its own addresses, so it passes the viewer's address in CloudFront-Viewer-Address plus a per-stack secret
header; ingest trusts the former only with the latter (see hitstream.routes_ingest.client_ip).
"""

from __future__ import annotations

from aws_cdk import Aws, CfnRule, CfnRuleAssertion, Fn, Stack, Token
from aws_cdk import aws_cloudfront as cf
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_wafv2 as waf
from constructs import Construct

from stacks.api import Api

VIEWER_ADDRESS_HEADER = "CloudFront-Viewer-Address"
ORIGIN_SECRET_HEADER = "X-Hitstream-Origin"


class Edge(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, api: Api, rate_limit: int) -> None:
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
        # The stack id's UUID: unique per deployment, never published, so it can mark requests from CloudFront.
        self.origin_secret = Fn.select(2, Fn.split("/", stack.stack_id))
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
        forward = cf.OriginRequestPolicy(
            self,
            "Forward",
            header_behavior=cf.OriginRequestHeaderBehavior.allow_list(
                VIEWER_ADDRESS_HEADER,
                "User-Agent",
                "Origin",
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
                cache_policy=cf.CachePolicy.CACHING_DISABLED,
                origin_request_policy=forward,
                viewer_protocol_policy=cf.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            ),
            price_class=cf.PriceClass.PRICE_CLASS_100,
            web_acl_id=self.web_acl.attr_arn,
        )

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}/"
