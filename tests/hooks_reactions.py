"""A team's reactions (HOOKS_MODULE), as docs/events.md shows them: a customer record made
exactly once per sign-up (a marker of the event's id in the same transaction), and a flaky
reaction to sign-ins that fails its first try. The tests point `table` at their table."""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib.hooks import events

table = ""
tries: dict[str, int] = {}


@events.on("user.created")
def create_customer(event: dict[str, Any]) -> None:
    client = boto3.client("dynamodb")
    try:
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {
                            "pk": {"S": f"CUSTOMER#{event['user_id']}"},
                            "email": {"S": event["data"]["email"]},
                        },
                    }
                },
                {
                    # The marker: this event's write is done. Delivered again, the
                    # transaction fails on it and writes nothing twice.
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": f"HANDLED#create_customer#{event['id']}"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    except client.exceptions.TransactionCanceledException as error:
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
        if reasons[1:] != ["ConditionalCheckFailed"]:
            raise  # not "done already": retried like a webhook


@events.on("session.created")
def flaky(event: dict[str, Any]) -> None:
    tries[event["id"]] = tries.get(event["id"], 0) + 1
    if tries[event["id"]] == 1:
        raise RuntimeError("the team's service was down")
