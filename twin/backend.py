"""moto-backed AWS for the twin: the two tables, their stream, and the Lambda runtime around the handlers."""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import os
import random
import sys
import threading
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"

LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "twin",
    "AWS_SECRET_ACCESS_KEY": "twin",
    "AWS_SESSION_TOKEN": "twin",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # moto 5.2.5 + botocore 1.44: streams 404 without it
    "EVENTS_TABLE": "hitstream-events",
    "STATS_TABLE": "hitstream-stats",
    "SALTS_TABLE": "hitstream-salts",
    "POWERTOOLS_SERVICE_NAME": "hitstream",
    "POWERTOOLS_METRICS_NAMESPACE": "Hitstream",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = ""

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def prepare_environment(overrides: dict[str, str] | None = None) -> None:
    for key, value in LOCAL_ENV.items():
        os.environ.setdefault(key, value)
    for key, value in (overrides or {}).items():
        os.environ[key] = value
    if str(FUNCTIONS) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS))


def _as_json(value: Any) -> Any:
    """Binary values as Lambda's JSON event carries them: base64 strings, not bytes."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_as_json(v) for v in value]
    return value


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A DynamoDB Streams API record, reshaped as Lambda delivers it (JSON: epoch seconds, base64 binaries)."""
    body = dict(record["dynamodb"])
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, dt.datetime):
        body["ApproximateCreationDateTime"] = int(created.timestamp())
    for image in ("Keys", "NewImage", "OldImage"):
        if image in body:
            body[image] = _as_json(body[image])
    return {**record, "dynamodb": body, "eventSourceARN": stream_arn}


class Backend:
    """Tables on moto, the stream read through the real DynamoDB Streams API, the ESM emulated."""

    def __init__(
        self,
        *,
        shards: int = 2,
        batch_size: int | None = None,
        fault_rate: float = 0.0,
        redelivery_rate: float = 0.0,
        seed: int | None = None,
        env: dict[str, str] | None = None,
        window_s: float | None = None,
        batching_s: float = 0.0,
        pessimistic: bool = False,
        shard_life_s: float = 15.0,
        policies: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        prepare_environment(env)
        from moto import mock_aws

        self._mock = mock_aws()
        self._mock.start()
        import boto3
        from hitstream.audience import visitors
        from hitstream.config import settings
        from hitstream.storage import clients, schema

        from twin import iam
        from twin.esm import EventSourceMapping
        from twin.faults import Faults

        clients.reset()
        settings.cache_clear()
        visitors.forget_salts()
        from hitstream.pipeline.aggregate import KNOWN

        KNOWN.clear()  # the aggregator's memory of items belongs to the old tables
        self.settings = settings()
        db = boto3.client("dynamodb")
        events = db.create_table(**schema.events_table_definition(self.settings.events_table))
        db.create_table(**schema.stats_table_definition(self.settings.stats_table))
        db.create_table(**schema.salts_table_definition(self.settings.salts_table))
        for table in (self.settings.events_table, self.settings.stats_table, self.settings.salts_table):
            db.update_time_to_live(
                TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": schema.TTL_ATTR}
            )
        self.stream_arn: str = events["TableDescription"]["LatestStreamArn"]
        self.streams = boto3.client("dynamodbstreams")
        self.iterators: dict[str, str] = {}
        rng = random.Random(seed)
        self.faults = Faults(rate=fault_rate, rng=random.Random(rng.random()))
        self.faults.install(clients.dynamodb())
        # Each handler's DynamoDB calls are checked against its function's role (twin/iam.py).
        self.iam = iam.Enforcer.for_twin(self.settings, policies)
        self.iam.install(clients.dynamodb())
        self.virtual_shards = [f"shardId-{i:020d}-twin{i:04d}" for i in range(max(1, shards))]
        self.lock = threading.RLock()
        from hitstream.observability import metrics

        self.metrics = metrics
        self.handlers = {name: importlib.import_module(f"{name}.handler") for name in ("ingest", "query", "aggregate")}
        self.esm = EventSourceMapping(
            handler=self.invoke_aggregate,
            stream_arn=self.stream_arn,
            filter_pattern=schema.STREAM_FILTER_PATTERN,
            batch_size=batch_size or schema.STREAM_BATCH_SIZE,
            retry_attempts=schema.STREAM_RETRY_ATTEMPTS,
            redelivery_rate=redelivery_rate,
            rng=random.Random(rng.random()),
            window_s=window_s,
            batching_s=batching_s,
            pessimistic=pessimistic,
            shard_life_s=shard_life_s,
        )

    def close(self) -> None:
        self._mock.stop()

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(function_name=f"hitstream-{function}", aws_request_id=str(uuid.uuid4()))
        from twin.iam import acting_as

        with self.lock, acting_as(function):
            try:
                return self.handlers[function].lambda_handler(event, context)
            finally:
                # The twin ships no metrics; Powertools keeps disabled metrics and prints them at 100 values.
                self.metrics.clear_metrics()

    def invoke_aggregate(self, event: dict[str, Any]) -> dict[str, Any]:
        from twin.faults import aggregate_path

        with aggregate_path():
            return self.invoke("aggregate", event)

    def read_stream(self) -> int:
        """Move new stream records into the emulated event source; returns how many arrived."""
        arrived = 0
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            sid = shard["ShardId"]
            if sid not in self.iterators:
                self.iterators[sid] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            while True:
                page = self.streams.get_records(ShardIterator=self.iterators[sid], Limit=1000)
                self.iterators[sid] = page["NextShardIterator"]
                records = [
                    lambda_record(r, self.stream_arn)
                    for r in page["Records"]
                    # moto emits an extra key-only INSERT when UpdateItem creates an item; DynamoDB does not
                    if r["dynamodb"].get("NewImage") != r["dynamodb"].get("Keys")
                ]
                arrived += len(records)
                for record in records:
                    self.esm.put(self._shard_of(record), [record])
                if not page["Records"]:
                    break
        return arrived

    def _shard_of(self, record: dict[str, Any]) -> str:
        # One item always maps to one shard, as in DynamoDB, so per-item order holds within a shard.
        key = repr(sorted(record["dynamodb"]["Keys"].items())).encode()
        return self.virtual_shards[zlib.crc32(key) % len(self.virtual_shards)]

    def settle(self, force: bool = True) -> None:
        """Read the stream, deliver the batches that are due and close the windows that are due (everything,
        when forced, as tests and snapshots want). One thread at a time: the poller, snapshots."""
        with self.lock:
            while True:
                arrived = self.read_stream()
                if not self.esm.drain(force=force) and not arrived:
                    break
            self.esm.close_windows(force=force)
