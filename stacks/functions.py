"""The one helper that makes a Python Lambda: the three functions differ only in handler, env and grants."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from scripts import bundle
from stacks import constants as c


def python_function(
    scope: Construct,
    construct_id: str,
    *,
    handler: str,
    environment: dict[str, str],
    memory_mb: int,
    timeout: Duration,
    runtime_layer: lambda_.ILayerVersion,
) -> lambda_.Function:
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        retention=logs.RetentionDays.ONE_WEEK,
        removal_policy=RemovalPolicy.DESTROY,
    )
    # Its own role, allowed to write to its own log group only (not AWSLambdaBasicExecutionRole's logs:* on *).
    role = iam.Role(scope, f"{construct_id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(
        iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn])
    )
    return lambda_.Function(
        scope,
        construct_id,
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        code=lambda_.Code.from_asset(str(bundle.functions_dir())),  # functions/ with CPython 3.12 bytecode
        layers=[runtime_layer],
        role=role,
        memory_size=memory_mb,
        timeout=timeout,
        log_group=log_group,
        # JSON logs with the platform's per-invocation START/END/REPORT lines filtered out (system level WARN):
        # ~300 bytes of CloudWatch Logs ingestion per invocation that nobody reads; errors still arrive.
        logging_format=lambda_.LoggingFormat.JSON,
        system_log_level_v2=lambda_.SystemLogLevel.WARN,
        application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
        environment={
            "POWERTOOLS_SERVICE_NAME": c.SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": "Hitstream",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            **environment,
        },
    )
