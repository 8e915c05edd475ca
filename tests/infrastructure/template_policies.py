"""Each function's IAM statements read back from a synthesized template, with table ARNs resolved to the twin's."""

from __future__ import annotations

import os
from typing import Any

from twin.iam import ACCOUNT, REGION, table_arn

TABLE_ENV = ("EVENTS_TABLE", "STATS_TABLE", "SALTS_TABLE")


def _function_of(handler: str) -> str:
    return handler.split(".", 1)[0]  # "query.handler.lambda_handler" -> "query"


def policies_from_template(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """{function: statements}, every statement of every policy attached to that function's role."""
    resources = template["Resources"]
    physical: dict[str, str] = {}  # table logical id -> the twin's table name, via the functions' env
    roles: dict[str, str] = {}  # role logical id -> function
    for fn in (r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"):
        props = fn["Properties"]
        roles[props["Role"]["Fn::GetAtt"][0]] = _function_of(props["Handler"])
        for name, value in props["Environment"]["Variables"].items():
            if name in TABLE_ENV and isinstance(value, dict) and "Ref" in value:
                physical[value["Ref"]] = os.environ.get(name) or os.environ["STATS_TABLE"]

    def resolve(value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            if attribute == "Arn" and logical in physical:
                return table_arn(physical[logical])
            return f"unresolved:{logical}.{attribute}"
        if "Fn::Join" in value:
            sep, parts = value["Fn::Join"]
            return str(sep).join(resolve(p) for p in parts)
        if "Ref" in value:
            return {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}.get(
                value["Ref"], f"unresolved:{value['Ref']}"
            )
        raise ValueError(f"cannot resolve {value}")

    out: dict[str, list[dict[str, Any]]] = {fn: [] for fn in roles.values()}
    for policy in (r for r in resources.values() if r["Type"] == "AWS::IAM::Policy"):
        for role in policy["Properties"]["Roles"]:
            if role.get("Ref") in roles:
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    res = statement["Resource"]
                    listed = res if isinstance(res, list) else [res]
                    out[roles[role["Ref"]]].append({**statement, "Resource": [resolve(r) for r in listed]})
    for logical, role in ((k, v) for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"):
        assert not role["Properties"].get("ManagedPolicyArns"), f"{logical} has managed policies"
        assert not role["Properties"].get("Policies"), f"{logical} has inline policies"
    return out


def dynamodb_grants(statements: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(action, resource, condition) triples of the DynamoDB table grants (not the event source's stream reads)."""
    out: set[tuple[str, str, str]] = set()
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for action in actions:
            for resource in resources:
                if (
                    action.startswith("dynamodb:")
                    and "/stream/" not in resource
                    and not resource.startswith(("unresolved:", "*"))
                ):
                    out.add((action, resource, repr(sorted(st.get("Condition", {}).items()))))
    return out
