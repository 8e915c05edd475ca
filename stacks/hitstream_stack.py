"""One stack: storage, pipeline, API, monitoring, and the optional edge."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.api import Api
from stacks.edge import Edge, origin_gate, origin_secret
from stacks.limits import check_limits
from stacks.monitoring import Monitoring
from stacks.nag import suppress_reviewed_findings
from stacks.pipeline import Pipeline
from stacks.settings import from_context
from stacks.storage import Storage


class HitstreamStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = from_context(self.node)
        origins = list(settings.allowed_origins)
        storage = Storage(self, "Storage")
        pipeline = Pipeline(self, "Pipeline", storage=storage, settings=settings)
        # Behind the edge, only requests from CloudFront (with the secret header) get past API Gateway.
        secret = origin_secret(self) if settings.waf_rate_limit else None
        api = Api(
            self,
            "Api",
            pipeline=pipeline,
            allowed_origins=origins,
            rate_limit=settings.throttle_rate,
            burst_limit=settings.throttle_burst,
            ingest_endpoint=settings.ingest_endpoint,
            ingest_concurrency=settings.ingest_concurrency,
            authorizer=origin_gate(self, "OriginGate", secret=secret) if secret else None,
        )
        Monitoring(
            self,
            "Monitoring",
            pipeline=pipeline,
            api=api,
            freshness_s=settings.freshness_s,
            alarm_email=settings.alarm_email,
        )
        CfnOutput(
            self,
            "ApiUrl",
            value=api.url,
            description="Answers only CloudFront: use EdgeUrl"
            if secret
            else "Dashboard; beacon at <url>beacon.js; check it with make smoke URL=<url> TOKEN=<make token>",
        )
        if api.ingest_url is not None:
            CfnOutput(self, "IngestUrl", value=api.ingest_url.url, description="Function URL that takes the beacons")
        if settings.waf_rate_limit and secret:
            edge = Edge(self, "Edge", api=api, rate_limit=settings.waf_rate_limit, secret=secret)
            pipeline.ingest.add_environment("EDGE_ORIGIN_SECRET", edge.origin_secret)
            CfnOutput(self, "EdgeUrl", value=edge.url, description="Use this URL (WAF rate limit per IP) in pages")
        CfnOutput(self, "StatsTableName", value=storage.stats.table_name)
        CfnOutput(self, "EventsTableName", value=storage.events.table_name)
        check_limits(self, settings)
        suppress_reviewed_findings(self)
