"""Deploy-time limits, checked at synth: a stack that CloudFormation would reject fails here, naming the setting.

Lambda allows 4 KB for all of a function's environment variables together
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). SITES and ALLOWED_ORIGINS grow with
every site, so a long `sites` list overflows it. Values CloudFormation fills in at deploy time are estimated from
above: a generated table name is `<stack>-<logical id>-<13 characters>`, the origin secret a 36-character UUID.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_

from stacks import constants as c
from stacks.settings import ContextError, DeploySettings

UNKNOWN_VALUE_CHARS = 255  # any other deploy-time value: the longest name CloudFormation generates


def environment_bytes(variables: dict[str, Any], stack: Stack) -> int:
    """Bytes of the variables as JSON (`{"KEY":"value",...}`), a bound from above on what Lambda counts."""
    sized = {
        key: value if isinstance(value, str) else "x" * _deploy_time_chars(value, stack)
        for key, value in variables.items()
    }
    return len(json.dumps(sized, separators=(",", ":")).encode())


def _deploy_time_chars(value: Any, stack: Stack) -> int:
    if isinstance(value, dict) and set(value) == {"Ref"} and isinstance(value["Ref"], str):
        return len(stack.stack_name) + 1 + len(value["Ref"]) + 1 + 13
    if isinstance(value, dict) and "Fn::Select" in value:  # the origin secret: a UUID from the stack id
        return 36
    return UNKNOWN_VALUE_CHARS


def check_limits(stack: Stack, settings: DeploySettings) -> None:
    for construct in stack.node.find_all():
        if not isinstance(construct, lambda_.Function):
            continue
        cfn = construct.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        variables = (stack.resolve(cfn._cfn_properties.get("environment")) or {}).get("variables") or {}
        size = environment_bytes(variables, stack)
        if size > c.LAMBDA_ENVIRONMENT_BYTES:
            raise ContextError(
                f"-c sites: {len(settings.sites)} sites ({len(settings.allowed_origins)} allowed origins) make the "
                f"environment of {construct.node.path} about {size} bytes, over Lambda's "
                f"{c.LAMBDA_ENVIRONMENT_BYTES} bytes for all variables together: list fewer sites (or shorter "
                "allowedOrigins), or split them over two stacks (-c stackName=...)"
            )
