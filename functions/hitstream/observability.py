"""The one place Logger and Metrics are created; everything else imports them.

No Tracer: the X-Ray SDK alone adds ~170 ms to every cold start (more than `import boto3`) and a per-trace
bill, while structured logs and EMF metrics already answer what operators ask (docs/decisions.md).
"""

from aws_lambda_powertools import Logger, Metrics

SERVICE = "hitstream"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="Hitstream", service=SERVICE)
