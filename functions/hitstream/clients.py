"""Lazily created, cached boto3 clients: nothing talks to AWS at import time."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    # Standard retry mode with a small budget: the stream retries whole batches anyway.
    return boto3.client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 3}))


def reset() -> None:
    """Forget cached clients (tests and the local twin swap the backend underneath)."""
    dynamodb.cache_clear()
