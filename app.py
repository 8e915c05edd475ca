#!/usr/bin/env python3
"""CDK entry point: builds the app and the stack, nothing else."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "functions"))  # the stack reads hitstream.schema

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.hitstream_stack import HitstreamStack

app = cdk.App()
HitstreamStack(app, app.node.try_get_context("stackName") or "Hitstream")
cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
app.synth()
