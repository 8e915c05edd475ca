"""What each function may do in DynamoDB: the one declaration that the stack renders into IAM and the twin enforces.

Adding a grant is one line in GRANTS. The stack (stacks/pipeline.py) turns `statements()` into the role policies,
and the local twin (twin/iam.py) evaluates the same statements before every DynamoDB call a handler makes, so a
call that AWS would deny fails in `make test` and `make run` too. Pure data: no CDK, no boto3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hitstream.storage.schema import RANK_INDEX

FUNCTIONS = ("ingest", "query", "aggregate")
TABLES = ("events", "stats", "salts")  # logical names; env EVENTS_TABLE, STATS_TABLE, SALTS_TABLE hold the real ones


@dataclass(frozen=True)
class Grant:
    function: str
    table: str
    actions: tuple[str, ...]  # DynamoDB API names, e.g. "GetItem"
    index: str | None = None  # the grant covers this index of the table instead of the table itself
    leading_keys: tuple[str, ...] = ()  # only items whose partition key is one of these (dynamodb:LeadingKeys)


GRANTS: tuple[Grant, ...] = (
    Grant("ingest", "events", ("UpdateItem",)),  # one upsert per hit
    Grant("ingest", "salts", ("GetItem", "PutItem", "DeleteItem")),  # the day's salt: create, read, delete at 48 h
    Grant("ingest", "stats", ("GetItem",)),  # the counts a beacon asks for with {"counts": true}
    # fenced counter updates; a failed condition returns the item (ALL_OLD), so nothing is read
    Grant("aggregate", "stats", ("UpdateItem",)),
    Grant("query", "stats", ("GetItem", "Query", "BatchGetItem")),  # totals, day ranges, all-time top rows
    Grant("query", "stats", ("Query",), index=RANK_INDEX),  # top-N candidates
)


def resource(table_arn: str, grant: Grant) -> str:
    return f"{table_arn}/index/{grant.index}" if grant.index else table_arn


def statements(
    function: str, table_arn: Callable[[str], str], grants: tuple[Grant, ...] = GRANTS
) -> list[dict[str, Any]]:
    """IAM policy statements (JSON) for one function; table_arn maps a logical table name to its ARN."""
    if function not in FUNCTIONS:
        raise ValueError(f"unknown function {function!r}")
    out: list[dict[str, Any]] = []
    for grant in grants:
        if grant.function != function:
            continue
        if grant.table not in TABLES:
            raise ValueError(f"grant on unknown table {grant.table!r}")
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Action": [f"dynamodb:{action}" for action in grant.actions],
            "Resource": resource(table_arn(grant.table), grant),
        }
        if grant.leading_keys:
            statement["Condition"] = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": list(grant.leading_keys)}}
        out.append(statement)
    return out


def tables_used(function: str, grants: tuple[Grant, ...] = GRANTS) -> list[str]:
    return sorted({g.table for g in grants if g.function == function})
