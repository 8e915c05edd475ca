"""Fault injection on the aggregate path: DynamoDB writes that fail before they happen, or after (lost response)."""

from __future__ import annotations

import contextvars
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

WRITES = ("UpdateItem", "PutItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
_on_aggregate_path = contextvars.ContextVar("on_aggregate_path", default=False)
_fail_after = contextvars.ContextVar("fail_after", default=False)


class LostResponse(ClientError):
    """The write took effect, but its caller never hears so."""


@dataclass
class Faults:
    rate: float
    rng: random.Random = field(default_factory=random.Random)
    before: int = 0
    after: int = 0

    def install(self, client: Any) -> None:
        for op in WRITES:
            client.meta.events.register(f"before-call.dynamodb.{op}", self._before)
            client.meta.events.register(f"after-call.dynamodb.{op}", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        _fail_after.set(False)
        if not (self.rate > 0 and _on_aggregate_path.get() and self.rng.random() < self.rate):
            return
        if self.rng.random() < 0.5:
            _fail_after.set(True)
        else:
            self.before += 1
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "injected fault before the write"}},
                model.name,
            )

    def _after(self, model: Any, http_response: Any = None, parsed: Any = None, **_: Any) -> None:
        if _fail_after.get() and not (parsed or {}).get("Error"):
            _fail_after.set(False)
            self.after += 1
            raise LostResponse(
                {
                    "Error": {
                        "Code": "RequestTimeout",
                        "Message": "injected fault: the write happened, its response was lost",
                    }
                },
                model.name,
            )


@contextmanager
def aggregate_path() -> Iterator[None]:
    token = _on_aggregate_path.set(True)
    try:
        yield
    finally:
        _on_aggregate_path.reset(token)
