"""The HTTP API: POSTs to ingest, everything else to query, with throttling and the CORS allow-list.

With `-c ingestEndpoint=functionUrl` the ingest function is reached through its own Lambda Function URL instead
(no API Gateway request fee); the function receives the same payload v2 events either way.
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration
from aws_cdk import aws_apigateway as rest
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

from stacks.pipeline import Pipeline

# Every GET the query function serves; a path not listed here is answered 404 by API Gateway at no Lambda cost.
QUERY_ROUTES = ("/", "/beacon.js", "/openapi.json", "/static/{name}", "/statistics", "/statistics/{slug}", "/sites")
INGEST_ROUTES = ("/statistics/{slug}/hits", "/statistics/{slug}/likes")

# Access log fields: no source IP and no User-Agent, by design.
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","routeKey":"$context.routeKey","status":"$context.status",'
    '"responseLength":"$context.responseLength","latencyMs":"$context.integrationLatency",'
    '"time":"$context.requestTime"}'
)


@jsii.implements(apigw.IAccessLogSettings)
class AccessLogs:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigw.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> rest.AccessLogFormat:
        return rest.AccessLogFormat.custom(ACCESS_LOG_FORMAT)


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: Pipeline,
        allowed_origins: list[str],
        rate_limit: int,
        burst_limit: int,
        ingest_endpoint: str = "httpApi",
        ingest_concurrency: int | None = None,
        authorizer: apigw.IHttpRouteAuthorizer | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.http_api = apigw.HttpApi(
            self,
            "HttpApi",
            description="hitstream: beacons in, statistics out",
            create_default_stage=False,
            cors_preflight=apigw.CorsPreflightOptions(
                allow_origins=allowed_origins,
                allow_methods=[apigw.CorsHttpMethod.GET, apigw.CorsHttpMethod.POST, apigw.CorsHttpMethod.OPTIONS],
                allow_headers=["content-type", "authorization"],
                allow_credentials=False,
                max_age=Duration.minutes(10),
            )
            if allowed_origins
            else None,
        )
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_WEEK)
        self.stage = self._stage(access_logs, rate_limit, burst_limit)
        ingest = HttpLambdaIntegration("Ingest", pipeline.ingest)
        query = HttpLambdaIntegration("Query", pipeline.query)
        self.ingest_url: lambda_.FunctionUrl | None = None
        if ingest_concurrency is not None:
            # Opt-in: Lambda refuses a reservation that leaves the account under 100 unreserved (README Deploy).
            cfn = pipeline.ingest.node.default_child
            assert isinstance(cfn, lambda_.CfnFunction)
            cfn.reserved_concurrent_executions = ingest_concurrency
        if ingest_endpoint == "functionUrl":
            self.ingest_url = pipeline.ingest.add_function_url(
                auth_type=lambda_.FunctionUrlAuthType.NONE,
                cors=lambda_.FunctionUrlCorsOptions(
                    allowed_origins=allowed_origins,
                    allowed_methods=[lambda_.HttpMethod.POST, lambda_.HttpMethod.GET],  # hits; beacon.js, counters
                    allowed_headers=["content-type"],
                    allow_credentials=False,
                    max_age=Duration.minutes(10),
                )
                if allowed_origins
                else None,
            )
        else:
            for path in INGEST_ROUTES:
                self.http_api.add_routes(
                    path=path, methods=[apigw.HttpMethod.POST], integration=ingest, authorizer=authorizer
                )
        for path in QUERY_ROUTES:  # HEAD too: API Gateway does not answer HEAD from a GET route
            self.http_api.add_routes(
                path=path,
                methods=[apigw.HttpMethod.GET, apigw.HttpMethod.HEAD],
                integration=query,
                authorizer=authorizer,
            )

    def _stage(self, access_logs: logs.LogGroup, rate_limit: int, burst_limit: int) -> apigw.HttpStage:
        stage = self.http_api.add_stage(
            "Stage",  # not "Default": CDK drops that id from logical ids, colliding with the API itself
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            access_log_settings=AccessLogs(access_logs),
        )
        return stage

    @property
    def url(self) -> str:
        return self.http_api.api_endpoint + "/"
