"""Capacity metering from the actual DynamoDB requests, by botocore hooks on the clients the code uses.

For every data-plane call it records, by DynamoDB's published rules:
  * write request units: item size in 1 KB steps, rounded up, minimum 1; for UpdateItem/PutItem the larger
    of the item before and after the write; a failed conditional write still costs the size of the item it
    would have written or the one that is there; TransactWriteItems costs double;
  * writes to global secondary indexes: an item entering an index costs one write of its projected size
    (keys + projected attributes + 100 bytes), leaving it one, a change of an index key a delete plus a put,
    and a change of a projected attribute one write; these are included in wru (and also shown apart);
  * read request units: 4 KB steps over the item (GetItem) or the sum of a page's items (Query, Scan),
    half for eventually consistent reads, minimum one step;
  * requests, and the number of write requests each item receives (for the hottest item).
Item sizes before and after a write are read from moto's in-memory backend directly, which is not a
DynamoDB request and so costs nothing and is not counted.
"""

from __future__ import annotations

import base64
import copy
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

WRITE_OPS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
READ_OPS = ("GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems")
GSI_ITEM_OVERHEAD = 100

ItemKey = tuple[str, str, str]  # table, partition key, sort key ("" when none)
Attrs = dict[str, tuple[str, Any]]  # attribute name -> (type, value), normalised from wire or moto form


def number_size(text: str) -> int:
    """DynamoDB: about one byte per two significant digits, plus one; a negative sign adds one."""
    digits = str(text).lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    if "e" in digits.lower():  # exponent notation: count the mantissa
        digits = str(Decimal(text).normalize()).lstrip("-").replace(".", "")
    return (len(digits) + 1) // 2 + 1 + (1 if str(text).startswith("-") else 0)


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    try:
        return len(base64.b64decode(value, validate=True))
    except (ValueError, TypeError):
        return len(str(value).encode())


def value_size(kind: str, value: Any) -> int:
    if kind == "S":
        return len(str(value).encode("utf-8", "surrogatepass"))
    if kind == "N":
        return number_size(str(value))
    if kind == "B":
        return _binary_size(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(value_size("S", v) for v in value)
    if kind == "NS":
        return sum(value_size("N", v) for v in value)
    if kind == "BS":
        return sum(value_size("B", v) for v in value)
    if kind == "L":
        return 3 + sum(1 + value_size(*_pair(v)) for v in value)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(*_pair(v)) for k, v in value.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def _pair(value: Any) -> tuple[str, Any]:
    """(type, value) from a wire attribute {"S": "x"} or a moto DynamoType."""
    if isinstance(value, dict):
        ((kind, inner),) = value.items()
    else:
        kind, inner = value.type, value.value
    # copy containers: moto updates sets, lists and maps in place, and a snapshot must not move with them
    return kind, copy.deepcopy(inner) if isinstance(inner, list | dict) else inner


def normalise(attrs: dict[str, Any]) -> Attrs:
    return {name: _pair(v) for name, v in attrs.items()}


def item_size(attrs: Attrs) -> int:
    return sum(len(name.encode()) + value_size(kind, value) for name, (kind, value) in attrs.items())


def units(size: int, step: int) -> int:
    return max(1, math.ceil(size / step))


@dataclass
class Tally:
    requests: int = 0
    writes: int = 0
    reads: int = 0
    failed_conditions: int = 0
    wru: float = 0.0  # base table plus GSI
    gsi_wru: float = 0.0
    rru: float = 0.0
    ops: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.writes += other.writes
        self.reads += other.reads
        self.failed_conditions += other.failed_conditions
        self.wru += other.wru
        self.gsi_wru += other.gsi_wru
        self.rru += other.rru
        self.ops.update(other.ops)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "writes": self.writes,
            "reads": self.reads,
            "failed_conditions": self.failed_conditions,
            "wru": self.wru,
            "gsi_wru": self.gsi_wru,
            "rru": self.rru,
            "ops": dict(self.ops),
        }


@dataclass
class Snapshot:
    key: ItemKey
    before: Attrs | None
    proposed: int = 0  # size of a PutItem's item


class Meter:
    """Hooks a boto3 DynamoDB client; tallies are grouped by `phase` (set by the driver) or by `classify`."""

    def __init__(self, classify: Callable[[ItemKey], str | None] | None = None) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        self._backends = dynamodb_backends[DEFAULT_ACCOUNT_ID]
        self.phase = "other"
        self.classify = classify
        self.tallies: dict[str, Tally] = defaultdict(Tally)
        self.item_writes: Counter[ItemKey] = Counter()
        self.largest_item: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        self.enabled = True

    def attach(self, client: Any) -> None:
        region = client.meta.region_name
        events = client.meta.events
        events.register("before-parameter-build.dynamodb", self._params, unique_id=f"bench-meter-params-{id(self)}")
        events.register(
            "before-call.dynamodb", lambda **kw: self._before(region, **kw), unique_id=f"bench-meter-b-{id(self)}"
        )
        events.register(
            "after-call.dynamodb", lambda **kw: self._after(region, **kw), unique_id=f"bench-meter-a-{id(self)}"
        )

    def total(self, *phases: str) -> Tally:
        out = Tally()
        for name, tally in self.tallies.items():
            if not phases or name in phases:
                out.add(tally)
        return out

    # -- moto lookups (not DynamoDB requests) -------------------------------------------------------------

    def _table(self, region: str, name: str) -> Any:
        return self._backends[region].get_table(name)

    def _key(self, table: Any, name: str, attrs: dict[str, Any]) -> ItemKey:
        pk = _pair(attrs[table.hash_key_attr])[1]
        sk = _pair(attrs[table.range_key_attr])[1] if table.range_key_attr else ""
        return name, str(pk), str(sk)

    def _current(self, table: Any, key: dict[str, Any]) -> Attrs | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        item = table.get_item(hash_key, range_key)
        return None if item is None else normalise(dict(item.attrs))

    # -- hooks ---------------------------------------------------------------------------------------------

    def _params(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = params

    def _write_targets(self, op: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
        """(table, key attributes, proposed put item size) for each item a write request touches."""
        if op == "PutItem":
            return [(params["TableName"], params["Item"], item_size(normalise(params["Item"])))]
        if op in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"], 0)]
        out: list[tuple[str, dict[str, Any], int]] = []
        if op == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for r in requests:
                    if "PutRequest" in r:
                        item = r["PutRequest"]["Item"]
                        out.append((table, item, item_size(normalise(item))))
                    else:
                        out.append((table, r["DeleteRequest"]["Key"], 0))
        if op == "TransactWriteItems":
            for t in params["TransactItems"]:
                ((kind, body),) = t.items()
                if kind == "Put":
                    out.append((body["TableName"], body["Item"], item_size(normalise(body["Item"]))))
                else:
                    out.append((body["TableName"], body["Key"], 0))
        return out

    def _before(self, region: str, model: Any, context: dict[str, Any], **_: Any) -> None:
        if not self.enabled or model.name not in WRITE_OPS:
            return
        params = context.get("bench_params") or {}
        snaps = []
        for name, attrs, proposed in self._write_targets(model.name, params):
            table = self._table(region, name)
            key = self._key(table, name, attrs)
            key_attrs = {table.hash_key_attr: attrs[table.hash_key_attr]}
            if table.range_key_attr:
                key_attrs[table.range_key_attr] = attrs[table.range_key_attr]
            snaps.append((Snapshot(key, self._current(table, key_attrs), proposed), table, key_attrs))
        context["bench_snaps"] = snaps

    def _after(self, region: str, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if not self.enabled or not (model.name in WRITE_OPS or model.name in READ_OPS):
            return
        params = context.get("bench_params") or {}
        error = (parsed or {}).get("Error", {}).get("Code")
        with self.lock:
            if model.name in WRITE_OPS:
                self._charge_write(model.name, params, context.get("bench_snaps") or [], error, region)
            else:
                self._charge_read(model.name, params, parsed or {}, error)

    def _label(self, key: ItemKey) -> str:
        if self.classify is not None:
            label = self.classify(key)
            if label:
                return label
        return self.phase

    def _charge_write(self, op: str, params: dict[str, Any], snaps: list[Any], error: str | None, region: str) -> None:
        conditional_failure = error in ("ConditionalCheckFailedException", "TransactionCanceledException")
        factor = 2 if op == "TransactWriteItems" else 1
        for i, (snap, table, key_attrs) in enumerate(snaps):
            tally = self.tallies[self._label(snap.key)]
            if i == 0:
                tally.requests += 1
                tally.ops[op] += 1
                if conditional_failure:
                    tally.failed_conditions += 1
            tally.writes += 1
            self.item_writes[snap.key] += 1
            if error and not conditional_failure:
                continue  # rejected before doing anything: not charged
            before = snap.before
            after = before if conditional_failure else self._current(table, key_attrs)
            old_size = item_size(before) if before else 0
            new_size = item_size(after) if after else 0
            self.largest_item[snap.key[0]] = max(self.largest_item[snap.key[0]], old_size, new_size)
            size = max(old_size, new_size, snap.proposed)
            tally.wru += factor * units(size, 1024)
            if not conditional_failure:
                gsi = factor * self._gsi_writes(table, before, after)
                tally.wru += gsi
                tally.gsi_wru += gsi

    def _gsi_writes(self, table: Any, before: Attrs | None, after: Attrs | None) -> int:
        total = 0
        for index in table.global_indexes:
            old, new = _index_item(table, index, before), _index_item(table, index, after)
            if old is None and new is None:
                continue
            if old is None or new is None:
                total += units(item_size(old or new or {}) + GSI_ITEM_OVERHEAD, 1024)
                continue
            keys = [k["AttributeName"] for k in index.schema]
            if any(old[k] != new[k] for k in keys):
                total += units(item_size(old) + GSI_ITEM_OVERHEAD, 1024)
                total += units(item_size(new) + GSI_ITEM_OVERHEAD, 1024)
            elif old != new:
                total += units(max(item_size(old), item_size(new)) + GSI_ITEM_OVERHEAD, 1024)
        return total

    def _charge_read(self, op: str, params: dict[str, Any], parsed: dict[str, Any], error: str | None) -> None:
        tally = self.tallies[self.phase]
        tally.requests += 1
        tally.reads += 1
        tally.ops[op] += 1
        if error:
            return
        if op == "GetItem":
            size = item_size(normalise(parsed.get("Item") or {}))
            tally.rru += units(size, 4096) * (1.0 if params.get("ConsistentRead") else 0.5)
        elif op in ("Query", "Scan"):
            size = sum(item_size(normalise(i)) for i in parsed.get("Items") or [])
            consistent = params.get("ConsistentRead") and not params.get("IndexName")
            tally.rru += units(size, 4096) * (1.0 if consistent else 0.5)
        elif op == "BatchGetItem":
            for table, items in (parsed.get("Responses") or {}).items():
                consistent = (params["RequestItems"].get(table) or {}).get("ConsistentRead")
                for item in items:
                    tally.rru += units(item_size(normalise(item)), 4096) * (1.0 if consistent else 0.5)
        elif op == "TransactGetItems":
            for r in parsed.get("Responses") or []:
                tally.rru += 2 * units(item_size(normalise(r.get("Item") or {})), 4096)


def _index_item(table: Any, index: Any, attrs: Attrs | None) -> Attrs | None:
    if attrs is None:
        return None
    keys = [k["AttributeName"] for k in index.schema]
    if any(k not in attrs for k in keys):
        return None  # sparse index: the item is not in it
    names = {table.hash_key_attr, *keys}
    if table.range_key_attr:
        names.add(table.range_key_attr)
    projection = index.projection or {}
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return dict(attrs)
    if kind == "INCLUDE":
        names.update(projection.get("NonKeyAttributes", []))
    return {n: attrs[n] for n in names if n in attrs}
