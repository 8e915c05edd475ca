"""Daily-salted visitor ids. The raw IP and User-Agent go into the HMAC and nowhere else.

Salts live in their own table, which has no backup of any kind (no point-in-time recovery, no export), and
hitstream deletes each one itself once its 48 hours are over: whenever an ingest creates a new day's salt it
deletes the salts of the days before yesterday. TTL on the same items is only a backup (DynamoDB may take
days to expire an item). After that nobody, the operator included, can recompute an id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from typing import Any

from botocore.exceptions import ClientError

from hitstream import days
from hitstream.storage import clients
from hitstream.storage.schema import PK, SALT, SK, TTL_ATTR

_salts: dict[str, bytes] = {}
PURGE_BACK_DAYS = 7  # days before yesterday whose salts a new day's first ingest makes sure are gone


def salt_for(day: str, table: str, ttl_hours: int = 48) -> bytes:
    """The day's salt: created once by whichever ingest wins the conditional put, read back by the rest."""
    cached = _salts.get(day)
    if cached is not None:
        return cached
    db: Any = clients.dynamodb()
    key = {PK: {"S": SALT}, SK: {"S": day}}
    got = db.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    if got is not None:
        salt = bytes(got["v"]["B"])
    else:
        candidate = secrets.token_bytes(32)
        try:
            db.put_item(
                TableName=table,
                Item={**key, "v": {"B": candidate}, TTL_ATTR: {"N": str(days.day_start(day) + ttl_hours * 3600)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            salt = candidate
            if day == days.today(time.time()):  # backdated writes (the demo, tests) leave older salts alone
                purge_expired(day, table)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            salt = bytes(db.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["v"]["B"])
    _salts.clear()  # keep only the current day's salt in memory
    _salts[day] = salt
    return salt


def purge_expired(day: str, table: str) -> list[str]:
    """Delete the salts of the days before yesterday: 48 h after its day began, a salt is gone. Run by the first
    ingest of each day and by a daily schedule (for days without traffic). Returns the days looked at."""
    db: Any = clients.dynamodb()
    first = dt.date.fromisoformat(day)
    gone = []
    for back in range(2, 2 + PURGE_BACK_DAYS):
        old = (first - dt.timedelta(days=back)).isoformat()
        db.delete_item(TableName=table, Key={PK: {"S": SALT}, SK: {"S": old}})
        gone.append(old)
    return gone


def forget_salts() -> None:
    _salts.clear()


def visitor_id(salt: bytes, site: str, ip: str, user_agent: str) -> str:
    """Keyed by the site too: the same person on two sites has unrelated ids."""
    message = f"{site}\n{ip}\n{user_agent}".encode("utf-8", "surrogatepass")
    return hmac.new(salt, message, hashlib.sha256).hexdigest()[:32]
