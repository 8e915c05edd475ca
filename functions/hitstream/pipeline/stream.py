"""The stream side of the aggregator: Lambda's DynamoDB event in, a partial batch response out."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from hitstream.config import Settings
from hitstream.observability import logger, metrics
from hitstream.pipeline import aggregate


def handle(event: dict[str, Any], cfg: Settings, write: Callable[..., Any] | None = None) -> dict[str, Any]:
    sites = aggregate.site_codes(cfg.sites)

    def _interpret(record: DynamoDBRecord) -> aggregate.Event:
        body = record.dynamodb
        if body is None or not body.sequence_number:
            raise aggregate.PoisonRecord("stream record without a dynamodb body")
        return aggregate.interpret(
            body.new_image or {},
            body.old_image or {},
            body.sequence_number,
            body.approximate_creation_date_time or 0,
            sites,
        )

    records = event.get("Records") or []
    seqs = [s for s in (r.get("dynamodb", {}).get("SequenceNumber") for r in records) if s]
    # The shard id arrives with the tumbling-window fields the stack turns on; without it, one lane per stream.
    shard = str(event.get("shardId") or (records[0].get("eventSourceARN") if records else "") or "stream")
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    with processor(records=records, handler=_interpret):
        outcomes = processor.process()
    events = [result for status, result, _record in outcomes if status == "success"]
    failures: list[dict[str, str]] = [
        {"itemIdentifier": str(f["itemIdentifier"])} for f in processor.response()["batchItemFailures"]
    ]
    if failures:
        metrics.add_metric(name="PoisonRecords", unit=MetricUnit.Count, value=len(failures))
    # Every invocation writes its own records: nothing waits in the tumbling window's `state`, so no count
    # depends on a window's final invocation, on a retry getting its state back, or on when a window closes
    # (docs/decisions.md "No count waits for a window"). The stack turns tumbling windows on only so that each
    # invocation names its shard (`shardId`), which the fences are keyed by.
    try:
        writes = aggregate.apply_batch(
            events,
            shard,
            max(seqs, key=aggregate.seq_key) if seqs else "0",
            cfg.stats_table,
            write=write,
            concurrency=int(os.environ.get("AGGREGATE_WRITE_CONCURRENCY", "1")),
        )
    except Exception:  # noqa: BLE001 - any failed write: retry from the first record; the fences make that safe
        logger.exception("counter writes failed; asking Lambda to retry")
        metrics.add_metric(name="BatchRetries", unit=MetricUnit.Count, value=1)
        failures = [{"itemIdentifier": min(seqs, key=aggregate.seq_key)}]
    else:
        # Successes are logged at DEBUG, not metered: only failures are metrics (they cost only when they happen).
        logger.debug("batch written", extra={"records": len(events), "writes": writes})
    response: dict[str, Any] = {"batchItemFailures": failures}
    if "window" in event:  # with tumbling windows on, Lambda treats a response without `state` as a failure
        response["state"] = {}
    return response
