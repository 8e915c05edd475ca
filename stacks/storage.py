"""The events table (raw, expiring, streamed), the stats table (durable counters) and the salts table (never
backed up), from hitstream.schema."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as ddb
from constructs import Construct
from hitstream.storage import schema

_TYPES = {"S": ddb.AttributeType.STRING, "N": ddb.AttributeType.NUMBER, "B": ddb.AttributeType.BINARY}


def _keys(definition: dict[str, Any], key_schema: list[dict[str, str]]) -> dict[str, Any]:
    types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
    out: dict[str, Any] = {}
    for key in key_schema:
        role = "partition_key" if key["KeyType"] == "HASH" else "sort_key"
        out[role] = ddb.Attribute(name=key["AttributeName"], type=_TYPES[types[key["AttributeName"]]])
    return out


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        events = schema.events_table_definition("events")
        self.events = self._table(
            "Events",
            events,
            stream=ddb.StreamViewType[events["StreamSpecification"]["StreamViewType"]],
            removal_policy=RemovalPolicy.DESTROY,  # raw events expire within 30 days anyway
        )
        stats = schema.stats_table_definition("stats")
        self.stats = self._table("Stats", stats, point_in_time_recovery=True, removal_policy=RemovalPolicy.RETAIN)
        for index in stats["GlobalSecondaryIndexes"]:
            self.stats.add_global_secondary_index(
                index_name=index["IndexName"],
                **_keys(stats, index["KeySchema"]),
                projection_type=ddb.ProjectionType[index["Projection"]["ProjectionType"]],
                non_key_attributes=index["Projection"].get("NonKeyAttributes"),
            )
        # The day salts: no point-in-time recovery and no export, so no backup can ever recompute a visitor id.
        self.salts = self._table(
            "Salts",
            schema.salts_table_definition("salts"),
            point_in_time_recovery=False,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _table(
        self,
        construct_id: str,
        definition: dict[str, Any],
        *,
        removal_policy: RemovalPolicy,
        point_in_time_recovery: bool | None = None,
        stream: ddb.StreamViewType | None = None,
    ) -> ddb.Table:
        """An on-demand, encrypted table with a TTL, keyed as its hitstream.schema definition says."""
        pitr = (
            ddb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=point_in_time_recovery)
            if point_in_time_recovery is not None
            else None
        )
        return ddb.Table(
            self,
            construct_id,
            **_keys(definition, definition["KeySchema"]),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=schema.TTL_ATTR,
            stream=stream,
            point_in_time_recovery_specification=pitr,
            encryption=ddb.TableEncryption.AWS_MANAGED,
            removal_policy=removal_policy,
        )
