"""Daily-salted visitor ids. The raw IP and User-Agent go into the HMAC and nowhere else."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from botocore.exceptions import ClientError

from . import clients, days
from .schema import PK, SALT, SK, TTL_ATTR

_salts: dict[str, bytes] = {}


def salt_for(day: str, table: str, ttl_hours: int = 48) -> bytes:
    """The day's salt: created once by whichever ingest wins the conditional put, read back by the rest."""
    cached = _salts.get(day)
    if cached is not None:
        return cached
    db: Any = clients.dynamodb()
    key = {PK: {"S": SALT}, SK: {"S": day}}
    candidate = secrets.token_bytes(32)
    try:
        db.put_item(
            TableName=table,
            Item={**key, "v": {"B": candidate}, TTL_ATTR: {"N": str(days.day_start(day) + ttl_hours * 3600)}},
            ConditionExpression="attribute_not_exists(pk)",
        )
        salt = candidate
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        salt = db.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["v"]["B"]
    _salts.clear()  # keep only the current day's salt in memory
    _salts[day] = salt
    return salt


def forget_salts() -> None:
    _salts.clear()


def visitor_id(salt: bytes, ip: str, user_agent: str) -> str:
    return hmac.new(salt, f"{ip}\n{user_agent}".encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]
