"""Ingest Lambda: POST /statistics/{slug}/hits and /likes."""

import time
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from hitstream import days
from hitstream.api.ingest_routes import router, url_router
from hitstream.api.resolver import resolver
from hitstream.audience import bots, dimensions, visitors
from hitstream.config import settings
from hitstream.observability import logger, metrics

settings()  # a missing table name fails the cold start, not the first request
# Warm at init: the cold start, not the first counted hit, compiles the bot list's patterns, loads the User-Agent
# rules and the country table (scripts/coldstart.py measures both).
WARM_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
bots.is_bot(WARM_USER_AGENT)
dimensions.agent(WARM_USER_AGENT)
dimensions.country("192.0.2.1")
# See routes_ingest: the hot path validates its slug without pydantic. Its two POST routes are public.
app = resolver(validation=False, private_reads=False)
app.include_router(router)
app.include_router(url_router)  # beacon.js and public totals, for the Function URL


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("purge_salts") is True:  # the daily schedule (stacks/pipeline.py); no HTTP event has this key
        return {
            "purged": visitors.purge_expired(days.today(time.time()), settings().salts_table or settings().stats_table)
        }
    return app.resolve(event, context)
