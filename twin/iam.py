"""The deployed roles' DynamoDB permissions, enforced on the twin's client: a call AWS would deny fails here too.

moto checks no IAM, so each handler's DynamoDB calls are evaluated here, before they are sent, against the
policy statements of the function that is running (Backend.invoke names it). The statements are those the stack
renders from hitstream.permissions, or, in tests, those read back from the synthesized template. The evaluation
follows IAM's rules for what the statements use: actions and resources with wildcards, an explicit Deny winning,
and dynamodb:LeadingKeys conditions checked against every partition key a request touches
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from botocore.exceptions import ClientError

ACCOUNT = "123456789012"  # moto's account
REGION = "us-east-1"
log = logging.getLogger("twin.iam")

_running: contextvars.ContextVar[str | None] = contextvars.ContextVar("hitstream_function", default=None)
# Backend.invoke runs one function at a time; a handler's worker threads (the aggregate's write pool) do not
# inherit context variables, so they are attributed to the function that is running.
_active: list[str] = []


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


@contextmanager
def acting_as(function: str) -> Iterator[None]:
    token = _running.set(function)
    _active.append(function)
    try:
        yield
    finally:
        _active.pop()
        _running.reset(token)


def running_function() -> str | None:
    function = _running.get()
    if function is None and _active and threading.current_thread().name.startswith("ThreadPoolExecutor"):
        return _active[-1]
    return function


@dataclass(frozen=True)
class Check:
    action: str  # e.g. "dynamodb:GetItem"
    resource: str  # table or index ARN
    leading_keys: tuple[str, ...] | None  # partition keys the request touches; None when it names none (Scan)


def _scalar(value: Any) -> str:
    return str(next(iter(value.values()))) if isinstance(value, dict) and value else str(value)


def _partition_key(params: dict[str, Any], hash_key: str) -> tuple[str, ...] | None:
    """The partition key value a Query's KeyConditionExpression pins, if it can be read."""
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    for name, placeholder in re.findall(r"([#\w.]+)\s*=\s*(:\w+)", params.get("KeyConditionExpression", "")):
        if names.get(name, name) == hash_key and placeholder in values:
            return (_scalar(values[placeholder]),)
    return None


class Enforcer:
    """Evaluates each DynamoDB call of a running function against that function's policy statements."""

    def __init__(self, policies: dict[str, list[dict[str, Any]]], hash_keys: dict[str, dict[str | None, str]]):
        self.policies = policies
        self.hash_keys = hash_keys  # table name -> {None: table's partition key, index name: index's}
        self.denials: list[str] = []
        self.checked: list[tuple[str, Check]] = []

    @classmethod
    def for_twin(cls, settings: Any, policies: dict[str, list[dict[str, Any]]] | None = None) -> Enforcer:
        """The twin's tables (salts share the stats table when SALTS_TABLE is unset, as the functions do)."""
        from hitstream.storage import schema

        names = {
            "events": settings.events_table,
            "stats": settings.stats_table,
            "salts": settings.salts_table or settings.stats_table,
        }
        definitions = [schema.events_table_definition(names["events"]), schema.stats_table_definition(names["stats"])]
        if settings.salts_table and hasattr(schema, "salts_table_definition"):
            definitions.append(schema.salts_table_definition(settings.salts_table))
        return cls(declared_policies(names) if policies is None else policies, hash_keys(definitions))

    def install(self, client: Any) -> None:
        client.meta.events.register_first("before-call.dynamodb", self._before_call)  # before injected faults

    def _hash_key(self, table: str, index: str | None = None) -> str:
        keys = self.hash_keys.get(table, {})
        return keys.get(index, keys.get(None, "pk"))

    def checks(self, operation: str, params: dict[str, Any]) -> list[Check]:
        """What IAM authorizes for one request: an action on a resource, per table (and per item in a transaction)."""

        def keys(table: str, items: list[dict[str, Any]]) -> tuple[str, ...]:
            hk = self._hash_key(table)
            return tuple(_scalar(item[hk]) for item in items if hk in item)

        if operation in ("GetItem", "UpdateItem", "DeleteItem", "PutItem"):
            table = params["TableName"]
            item = params.get("Item") if operation == "PutItem" else params.get("Key")
            return [Check(f"dynamodb:{operation}", table_arn(table), keys(table, [item or {}]))]
        if operation == "Query":
            table, index = params["TableName"], params.get("IndexName")
            resource = f"{table_arn(table)}/index/{index}" if index else table_arn(table)
            return [Check("dynamodb:Query", resource, _partition_key(params, self._hash_key(table, index)))]
        if operation == "BatchGetItem":
            return [
                Check("dynamodb:BatchGetItem", table_arn(table), keys(table, spec.get("Keys", [])))
                for table, spec in params.get("RequestItems", {}).items()
            ]
        if operation == "BatchWriteItem":
            return [
                Check(
                    "dynamodb:BatchWriteItem",
                    table_arn(table),
                    keys(
                        table,
                        [r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key") for r in reqs],
                    ),
                )
                for table, reqs in params.get("RequestItems", {}).items()
            ]
        if operation in ("TransactWriteItems", "TransactGetItems"):
            actions = {
                "Put": "PutItem",
                "Update": "UpdateItem",
                "Delete": "DeleteItem",
                "ConditionCheck": "ConditionCheckItem",
                "Get": "GetItem",
            }
            out = []
            for entry in params.get("TransactItems", []):
                for kind, spec in entry.items():
                    table = spec["TableName"]
                    item = spec.get("Item") or spec.get("Key") or {}
                    out.append(Check(f"dynamodb:{actions[kind]}", table_arn(table), keys(table, [item])))
            return out
        table = params.get("TableName")
        index = params.get("IndexName")
        resource = (f"{table_arn(table)}/index/{index}" if index else table_arn(table)) if table else "*"
        return [Check(f"dynamodb:{operation}", resource, None)]

    def allows(self, function: str, check: Check) -> bool:
        allowed = False
        for statement in self.policies.get(function, []):
            if not _applies(statement, check):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = True
        return allowed

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        function = running_function()
        if function is None:  # the twin itself, or a test reading tables: not a Lambda role
            return
        body = params.get("body") or b"{}"
        request = json.loads(body) if isinstance(body, bytes | str) else dict(body)
        for check in self.checks(model.name, request):
            self.checked.append((function, check))
            if not self.allows(function, check):
                keys = f" (partition keys {list(check.leading_keys)})" if check.leading_keys else ""
                message = (
                    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/hitstream-{function}/hitstream-{function} "
                    f"is not authorized to perform: {check.action} on resource: {check.resource}{keys} because no "
                    f"identity-based policy of function '{function}' allows the {check.action} action"
                )
                self.denials.append(message)
                log.error("AccessDenied: %s", message)
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, model.name)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _applies(statement: dict[str, Any], check: Check) -> bool:
    if "NotAction" in statement or "NotResource" in statement:
        raise ValueError(f"twin IAM does not evaluate NotAction/NotResource: {statement}")
    if not any(fnmatchcase(check.action.lower(), a.lower()) for a in _listed(statement.get("Action", []))):
        return False
    if not any(fnmatchcase(check.resource, r) for r in _listed(statement.get("Resource", []))):
        return False
    return all(
        _condition(op, key, _listed(values), check)
        for op, body in statement.get("Condition", {}).items()
        for key, values in body.items()
    )


def _condition(operator: str, key: str, allowed: list[str], check: Check) -> bool:
    if key != "dynamodb:LeadingKeys":
        raise ValueError(f"twin IAM does not evaluate condition key {key}")
    present = check.leading_keys or ()
    if operator == "ForAllValues:StringEquals":
        return all(v in allowed for v in present)  # true for a request naming no key, as in IAM
    if operator == "ForAllValues:StringLike":
        return all(any(fnmatchcase(v, p) for p in allowed) for v in present)
    if operator == "ForAnyValue:StringEquals":
        return any(v in allowed for v in present)
    raise ValueError(f"twin IAM does not evaluate condition operator {operator}")


def declared_policies(names: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Each function's statements, rendered from hitstream.permissions exactly as the stack renders them."""
    from hitstream.storage import permissions

    def arn(logical: str) -> str:
        if logical not in names:
            raise ValueError(f"the twin has no {logical} table")
        return table_arn(names[logical])

    return {fn: permissions.statements(fn, arn) for fn in permissions.FUNCTIONS}


def hash_keys(definitions: list[dict[str, Any]]) -> dict[str, dict[str | None, str]]:
    """Partition key names by table and index, from CreateTable definitions."""
    out: dict[str, dict[str | None, str]] = {}
    for d in definitions:
        keys: dict[str | None, str] = {None: _hash(d["KeySchema"])}
        for index in d.get("GlobalSecondaryIndexes", []) + d.get("LocalSecondaryIndexes", []):
            keys[index["IndexName"]] = _hash(index["KeySchema"])
        out[d["TableName"]] = keys
    return out


def _hash(key_schema: list[dict[str, str]]) -> str:
    return next(k["AttributeName"] for k in key_schema if k["KeyType"] == "HASH")
