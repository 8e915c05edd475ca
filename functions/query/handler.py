"""Query Lambda: statistics, the dashboard, beacon.js and the OpenAPI document."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from hitstream.api import openapi
from hitstream.api.query_routes import router
from hitstream.api.resolver import resolver
from hitstream.config import settings
from hitstream.observability import logger, metrics

settings()
app = resolver()
app.include_router(router)
app.include_router(openapi.router)  # GET /openapi.json


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    http = event.get("requestContext", {}).get("http", {})
    if http.get("method") == "HEAD":  # every GET route answers HEAD as GET; HTTP sends its headers without the body
        http["method"] = "GET"
    return app.resolve(event, context)
