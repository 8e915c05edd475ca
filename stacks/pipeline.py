"""The three functions, their grants (rendered from hitstream.permissions), and the stream event source."""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from hitstream.storage import permissions, schema

from scripts import bundle
from stacks import constants as c
from stacks.functions import python_function
from stacks.settings import DeploySettings
from stacks.storage import Storage


class Pipeline(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, storage: Storage, settings: DeploySettings) -> None:
        super().__init__(scope, construct_id)
        found = bundle.versions()
        self.runtime_layer = lambda_.LayerVersion(
            self,
            "Runtime",
            code=lambda_.Code.from_asset(str(bundle.layer_zip())),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description=", ".join(f"{n} {found[n]}" for n in bundle.pins(bundle.REQUIREMENTS))[:256],
        )
        env = {
            "EVENTS_TABLE": storage.events.table_name,
            "STATS_TABLE": storage.stats.table_name,
            "SALTS_TABLE": storage.salts.table_name,
            "SITES": ",".join(settings.sites),
            "DASHBOARD": settings.dashboard,
            "ALLOWED_ORIGINS": ",".join(settings.allowed_origins),
            "FRESHNESS_SECONDS": str(settings.freshness_s),
            "EVENT_TTL_DAYS": str(c.EVENT_TTL_DAYS),
        }
        if settings.articles:
            env["ARTICLES"] = settings.articles

        def function(name: str, memory_mb: int, timeout: Duration) -> lambda_.Function:
            return python_function(
                self,
                name.title(),
                handler=f"{name}.handler.lambda_handler",
                memory_mb=memory_mb,
                timeout=timeout,
                runtime_layer=self.runtime_layer,
                environment=env,
            )

        self.ingest = function("ingest", c.INGEST_MEMORY_MB, c.API_TIMEOUT)
        self.query = function("query", c.QUERY_MEMORY_MB, c.API_TIMEOUT)
        self.aggregate = function("aggregate", c.AGGREGATE_MEMORY_MB, c.AGGREGATE_TIMEOUT)
        self.aggregate.add_environment("AGGREGATE_WRITE_CONCURRENCY", str(c.AGGREGATE_WRITE_CONCURRENCY))

        # Least privilege, declared once in hitstream.permissions; the local twin enforces the same statements.
        tables: dict[str, ddb.Table] = {"events": storage.events, "stats": storage.stats, "salts": storage.salts}
        for name, fn in (("ingest", self.ingest), ("query", self.query), ("aggregate", self.aggregate)):
            for statement in permissions.statements(name, lambda table: tables[table].table_arn):
                fn.add_to_role_policy(iam.PolicyStatement.from_json(statement))

        self.dlq = sqs.Queue(
            self,
            "StreamDlq",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        batching_s, tumbling_s = schema.stream_windows(settings.freshness_s)
        self.aggregate.add_event_source(
            sources.DynamoEventSource(
                storage.events,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=schema.STREAM_BATCH_SIZE,
                max_batching_window=Duration.seconds(batching_s),
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                retry_attempts=schema.STREAM_RETRY_ATTEMPTS,
                max_record_age=Duration.seconds(schema.STREAM_MAX_RECORD_AGE_S),
                tumbling_window=Duration.seconds(tumbling_s),
                parallelization_factor=1,
                on_failure=sources.SqsDlq(self.dlq),
                filters=[{"pattern": json.dumps(schema.STREAM_FILTER_PATTERN)}],
            )
        )
        # Salts go 48 h after their day began even on days without a hit: the ingest deletes them daily.
        events.Rule(
            self,
            "SaltPurge",
            description="hitstream: delete the visitor-hash salts of the days before yesterday",
            schedule=events.Schedule.expression(schema.SALT_PURGE_SCHEDULE),
            targets=[
                targets.LambdaFunction(
                    self.ingest, event=events.RuleTargetInput.from_object({"purge_salts": True}), retry_attempts=2
                )
            ],
        )
