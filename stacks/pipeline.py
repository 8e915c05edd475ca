"""The three functions, their least-privilege grants, and the stream event source."""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from hitstream import schema

from stacks import constants as c
from stacks.functions import python_function
from stacks.storage import Storage


class Pipeline(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, storage: Storage, allowed_origins: list[str]) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        layer_version = str(self.node.try_get_context("powertoolsLayerVersion") or c.POWERTOOLS_LAYER_VERSION)
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "Powertools", c.POWERTOOLS_LAYER.format(region=stack.region, version=layer_version)
        )
        env = {
            "EVENTS_TABLE": storage.events.table_name,
            "STATS_TABLE": storage.stats.table_name,
            "ALLOWED_ORIGINS": ",".join(allowed_origins),
            "EVENT_TTL_DAYS": str(c.EVENT_TTL_DAYS),
        }

        def function(name: str, memory_mb: int, timeout: Duration) -> lambda_.Function:
            return python_function(
                self,
                name.title(),
                handler=f"{name}.handler.lambda_handler",
                memory_mb=memory_mb,
                timeout=timeout,
                powertools_layer=layer,
                environment=env,
            )

        self.ingest = function("ingest", c.INGEST_MEMORY_MB, c.API_TIMEOUT)
        self.query = function("query", c.QUERY_MEMORY_MB, c.API_TIMEOUT)
        self.aggregate = function("aggregate", c.AGGREGATE_MEMORY_MB, c.AGGREGATE_TIMEOUT)
        self.aggregate.add_environment("AGGREGATE_WRITE_CONCURRENCY", str(c.AGGREGATE_WRITE_CONCURRENCY))

        # ingest: one UpdateItem per hit on events; the day's salt (and nothing else) in stats
        storage.events.grant(self.ingest, "dynamodb:UpdateItem")
        self.ingest.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:GetItem"],
                resources=[storage.stats.table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [schema.SALT]}},
            )
        )
        # aggregate: read its stream (granted by the event source), update and read counters
        self.aggregate.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:UpdateItem", "dynamodb:GetItem"], resources=[storage.stats.table_arn]
            )
        )
        # query: read counters and the rank index, nothing else
        self.query.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:Query"],
                resources=[storage.stats.table_arn, f"{storage.stats.table_arn}/index/{schema.RANK_INDEX}"],
            )
        )

        self.dlq = sqs.Queue(
            self,
            "StreamDlq",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.aggregate.add_event_source(
            sources.DynamoEventSource(
                storage.events,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=schema.STREAM_BATCH_SIZE,
                max_batching_window=Duration.seconds(schema.stream_windows(schema.DEFAULT_FRESHNESS_S)[0]),
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                retry_attempts=schema.STREAM_RETRY_ATTEMPTS,
                max_record_age=Duration.seconds(schema.STREAM_MAX_RECORD_AGE_S),
                tumbling_window=Duration.seconds(schema.stream_windows(schema.DEFAULT_FRESHNESS_S)[1]),
                parallelization_factor=1,
                on_failure=sources.SqsDlq(self.dlq),
                filters=[{"pattern": json.dumps(schema.STREAM_FILTER_PATTERN)}],
            )
        )
