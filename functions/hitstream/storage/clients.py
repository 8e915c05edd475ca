"""Lazily created, cached boto3 clients: nothing talks to AWS at import time."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    # Standard retry mode with a small budget: the stream retries whole batches anyway. One pooled connection
    # per aggregate write thread (the stack sets AGGREGATE_WRITE_CONCURRENCY), at least botocore's default 10.
    pool = max(10, int(os.environ.get("AGGREGATE_WRITE_CONCURRENCY", "1")))
    return boto3.client(
        "dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=pool)
    )


def reset() -> None:
    """Forget cached clients (tests and the local twin swap the backend underneath)."""
    dynamodb.cache_clear()
