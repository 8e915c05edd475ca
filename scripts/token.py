"""Create or rotate the owner token of the deployed stack: `make token` (`make token ARGS="--share 7"`).

It finds the stack's stats table through CloudFormation (output StatsTableName), writes the SHA-256 of a new
random token there (pk AUTH, sk OWNER) and prints the token once, with the dashboard address. The previous
token, and every share link made from it, stops working within a minute (the query function caches the hash
for 60 s). Only the hash is stored, so a lost token cannot be shown again: run `make token` for a new one.

`--share DAYS` instead prints a read-only share link that expires after DAYS days (at most 366); it leaves
the owner token as it is, and rotating the owner token revokes it.

The stack name is --stack, else CDK context stackName (cdk.json), else "Hitstream". Credentials and region
come from the usual boto3 chain (AWS_PROFILE, AWS_REGION, ...). Run it as a module (python -m scripts.token).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "functions"))

from hitstream.api import auth  # noqa: E402 - needs functions/ on the path

DEFAULT_STACK = "Hitstream"


def stack_name(explicit: str | None, cdk_json: Path = ROOT / "cdk.json") -> str:
    if explicit:
        return explicit
    try:
        context = json.loads(cdk_json.read_text()).get("context", {})
    except (OSError, ValueError):
        context = {}
    return str(context.get("stackName") or DEFAULT_STACK)


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def dashboard_url(outputs: dict[str, str], token: str) -> str | None:
    """The dashboard with the token in its fragment (never sent to a server, never in access logs)."""
    base = outputs.get("EdgeUrl") or outputs.get("ApiUrl")
    if not base:
        return None
    return f"{base.rstrip('/')}/#token={token}"


def rotate(db: Any, table: str) -> str:
    token = auth.new_token()
    auth.store_owner_token(table, token, db)
    return token


def share(db: Any, table: str, days: int, now: float | None = None) -> str:
    owner = auth.read_owner_hash(table, db)
    if owner is None:
        raise SystemExit("no owner token yet: run `make token` first")
    return auth.share_token(owner, int(now if now is not None else time.time()) + days * 86400)


def run(cloudformation: Any, db: Any, stack: str, share_days: int | None = None) -> list[str]:
    """What `make token` prints, line by line."""
    try:
        outputs = stack_outputs(cloudformation, stack)
    except (BotoCoreError, ClientError) as exc:  # no such stack, no credentials, wrong region
        raise SystemExit(f"cannot read stack {stack!r}: {exc}") from None
    table = outputs.get("StatsTableName")
    if not table:
        raise SystemExit(f"stack {stack!r} has no StatsTableName output: is it a hitstream stack?")
    if share_days is not None:
        token = share(db, table, share_days)
        lines = [f"Read-only share link for stack {stack}, valid {share_days} days (rotating the owner token ends it):"]
    else:
        token = rotate(db, table)
        lines = [f"New owner token for stack {stack}; shown once, the previous one stops working within a minute:"]
    lines.append(token)
    url = dashboard_url(outputs, token)
    if url:
        lines.append(f"Dashboard: {url}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="make token", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", help=f"CloudFormation stack name (default: cdk.json stackName or {DEFAULT_STACK})")
    parser.add_argument("--share", type=int, metavar="DAYS", help="print a read-only share link valid DAYS days")
    args = parser.parse_args(argv)
    if args.share is not None and not 1 <= args.share <= auth.MAX_SHARE_DAYS:
        parser.error(f"--share takes 1 to {auth.MAX_SHARE_DAYS} days")
    import boto3

    print("\n".join(run(boto3.client("cloudformation"), boto3.client("dynamodb"), stack_name(args.stack), args.share)))


if __name__ == "__main__":
    main()
