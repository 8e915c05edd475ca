"""Names and numbers of the stack, in one place."""

from aws_cdk import Duration

SERVICE = "hitstream"
FUNCTIONS_DIR = "functions"

# Powertools for AWS Lambda (Python) v3 public layer (includes pydantic); arm64, Python 3.12.
POWERTOOLS_LAYER = "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:{version}"
POWERTOOLS_LAYER_VERSION = "27"

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

# Alarm thresholds (README explains them)
ITERATOR_AGE_ALARM_MS = 5 * 60 * 1000  # counts lag more than 5 minutes behind
ERRORS_ALARM_COUNT = 1  # any function error in 5 minutes
DLQ_DEPTH_ALARM = 1  # any record that gave up
