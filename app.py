#!/usr/bin/env python3
"""CDK entry point: builds the app and the stack, nothing else."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "functions"))  # the stack reads hitstream.schema

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.hitstream_stack import HitstreamStack

app = cdk.App()
# The CLI sets these from the configured profile; a concrete region lets region-bound checks run at synth.
env = cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
HitstreamStack(app, app.node.try_get_context("stackName") or "Hitstream", env=env)
cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
app.synth()
