"""The naive baseline: the hand-rolled per-hit design, run against its own moto table.

For every hit, synchronously:
  * a conditional PutItem of a unique-visitor marker per (visitor, article, day) and one per (visitor, day)
    (attribute_not_exists), then
  * an UpdateItem ADD hits on the article total, article-day, site total and site-day items; where a marker
    was new, the same item's visitors are incremented too. With `literal=True` the visitor increments are
    separate UpdateItems after the hit counters (the issue's wording), which costs more;
for every like, a conditional like marker per (visitor, article, day) and, when new, ADD likes on the same four
items. No events table, no stream, no GSI (so it cannot serve top-N; adding the same rank index would
cost it more). The default variant is the cheapest faithful one: it makes the comparison conservative.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from botocore.exceptions import ClientError

SITE, TOTAL = "SITE", "TOTAL"
MARKER_TTL_S = 48 * 3600


def table_definition(name: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


class NaiveStore:
    def __init__(self, client: Any, table: str, *, literal: bool = False) -> None:
        self.db = client
        self.table = table
        self.literal = literal

    def visitor(self, day: str, ip: str, user_agent: str) -> str:
        # a hand-rolled daily-salted hash; the salt's storage is outside this design's per-hit cost
        salt = hashlib.sha256(f"naive-salt-{day}".encode()).digest()
        return hmac.new(salt, f"{ip}\n{user_agent}".encode(), hashlib.sha256).hexdigest()[:32]

    def _marker(self, pk: str, day_start: int) -> bool:
        try:
            self.db.put_item(
                TableName=self.table,
                Item={"pk": {"S": pk}, "sk": {"S": "M"}, "ttl": {"N": str(day_start + MARKER_TTL_S)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def _add(self, pk: str, sk: str, amounts: dict[str, int]) -> None:
        self.db.update_item(
            TableName=self.table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression="ADD " + ", ".join(f"{name} :{name}" for name in amounts),
            ExpressionAttributeValues={f":{name}": {"N": str(n)} for name, n in amounts.items()},
        )

    def hit(self, slug: str, day: str, day_start: int, visitor: str) -> None:
        article, day_sk = f"A#{slug}", f"D#{day}"
        if self.literal:
            for pk, sk in ((article, TOTAL), (article, day_sk), (SITE, TOTAL), (SITE, day_sk)):
                self._add(pk, sk, {"hits": 1})
            if self._marker(f"U#{day}#{visitor}#{slug}", day_start):
                self._add(article, TOTAL, {"visitors": 1})
                self._add(article, day_sk, {"visitors": 1})
            if self._marker(f"U#{day}#{visitor}", day_start):
                self._add(SITE, TOTAL, {"visitors": 1})
                self._add(SITE, day_sk, {"visitors": 1})
            return
        new_here = self._marker(f"U#{day}#{visitor}#{slug}", day_start)
        new_today = self._marker(f"U#{day}#{visitor}", day_start)
        for pk, sk, new in (
            (article, TOTAL, new_here),
            (article, day_sk, new_here),
            (SITE, TOTAL, new_today),
            (SITE, day_sk, new_today),
        ):
            self._add(pk, sk, {"hits": 1, "visitors": 1} if new else {"hits": 1})

    def like(self, slug: str, day: str, day_start: int, visitor: str) -> None:
        if not self._marker(f"L#{day}#{visitor}#{slug}", day_start):
            return
        article, day_sk = f"A#{slug}", f"D#{day}"
        for pk, sk in ((article, TOTAL), (article, day_sk), (SITE, TOTAL), (SITE, day_sk)):
            self._add(pk, sk, {"likes": 1})
