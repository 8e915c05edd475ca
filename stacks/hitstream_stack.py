"""One stack: storage, pipeline, API, monitoring."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks import constants as c
from stacks.api import Api
from stacks.edge import Edge
from stacks.monitoring import Monitoring
from stacks.nag import suppress_reviewed_findings
from stacks.pipeline import Pipeline
from stacks.storage import Storage


def _origins(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    origins = [str(o).strip() for o in items if str(o).strip()]
    if "*" in origins:
        raise ValueError("allowedOrigins must list origins; '*' is not allowed")
    return origins


class HitstreamStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        origins = _origins(self.node.try_get_context("allowedOrigins"))
        storage = Storage(self, "Storage")
        pipeline = Pipeline(self, "Pipeline", storage=storage, allowed_origins=origins)
        api = Api(
            self,
            "Api",
            pipeline=pipeline,
            allowed_origins=origins,
            rate_limit=int(self.node.try_get_context("throttleRate") or c.DEFAULT_THROTTLE_RATE),
            burst_limit=int(self.node.try_get_context("throttleBurst") or c.DEFAULT_THROTTLE_BURST),
        )
        Monitoring(self, "Monitoring", pipeline=pipeline, alarm_email=self.node.try_get_context("alarmEmail"))
        CfnOutput(self, "ApiUrl", value=api.url, description="Dashboard; beacon at <url>beacon.js")
        waf_limit = self.node.try_get_context("wafRateLimit")
        if waf_limit:
            edge = Edge(self, "Edge", api=api, rate_limit=int(waf_limit))
            pipeline.ingest.add_environment("EDGE_ORIGIN_SECRET", edge.origin_secret)
            CfnOutput(self, "EdgeUrl", value=edge.url, description="Use this URL (WAF rate limit per IP) in pages")
        CfnOutput(self, "StatsTableName", value=storage.stats.table_name)
        CfnOutput(self, "EventsTableName", value=storage.events.table_name)
        suppress_reviewed_findings(self)
