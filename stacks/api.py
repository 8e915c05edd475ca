"""The HTTP API: POSTs to ingest, everything else to query, with throttling and the CORS allow-list."""

from __future__ import annotations

import jsii
from aws_cdk import Duration
from aws_cdk import aws_apigateway as rest
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_logs as logs
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

from stacks.pipeline import Pipeline

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
                allow_headers=["content-type"],
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
        for kind in ("hits", "likes"):
            self.http_api.add_routes(
                path=f"/statistics/{{slug}}/{kind}", methods=[apigw.HttpMethod.POST], integration=ingest
            )
        for path in ("/", "/beacon.js", "/openapi.json", "/static/{name}", "/statistics", "/statistics/{slug}"):
            self.http_api.add_routes(path=path, methods=[apigw.HttpMethod.GET], integration=query)

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
