"""Aggregate Lambda: the events table's stream in, exact counters out."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from hitstream.config import settings
from hitstream.observability import logger, metrics
from hitstream.pipeline import stream

settings()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return stream.handle(event, settings())
