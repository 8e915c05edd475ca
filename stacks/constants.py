"""Names and numbers of the stack, in one place."""

from aws_cdk import Duration

SERVICE = "hitstream"

# The runtime dependencies ship in a layer the project builds from its pins (scripts/bundle.py), not a public one.

LOG_RETENTION_DAYS = 7
INGEST_MEMORY_MB = 256
QUERY_MEMORY_MB = 256
AGGREGATE_MEMORY_MB = 512
AGGREGATE_WRITE_CONCURRENCY = 16
API_TIMEOUT = Duration.seconds(10)
AGGREGATE_TIMEOUT = Duration.seconds(120)

DEFAULT_THROTTLE_RATE = 200  # requests/s, steady
DEFAULT_THROTTLE_BURST = 400
EVENT_TTL_DAYS = 30

# -c ingestConcurrency=N reserves N of the account's concurrency for ingest (off by default). Lambda keeps 100
# unreserved, so the account's concurrency quota must be at least N + 100; new accounts may have less.
MAX_INGEST_CONCURRENCY = 10_000
LAMBDA_UNRESERVED_MINIMUM = 100

# Deploy-time limits checked at synth (stacks/limits.py, stacks/settings.py)
LAMBDA_ENVIRONMENT_BYTES = 4096  # all of a function's variables together
FUNCTION_URL_MAX_ORIGINS = 100  # AllowOrigins of a Function URL's CORS

# Alarms (README "Alarms" explains each): one period, alarm on any failure a user would see
ALARM_PERIOD = Duration.minutes(5)
API_5XX_ALARM = 1  # 5xx answers of the API (or the ingest Function URL) in 5 minutes
FAILURES_ALARM = 1  # function errors + routes answering 500 + retried batches + poison records, in 5 minutes
DLQ_DEPTH_ALARM = 1  # any record that gave up
ITERATOR_AGE_SLACK_S = 60  # the iterator-age alarm fires at the freshness bound plus this
