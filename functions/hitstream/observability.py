"""The one place Logger, Metrics and Tracer are created; everything else imports them."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "hitstream"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="Hitstream", service=SERVICE)
tracer = Tracer(service=SERVICE)
