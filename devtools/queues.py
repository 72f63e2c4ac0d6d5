"""An SQS queue read as Lambda's SQS event source mapping reads it, for `make dev` and the
tests: up to ten messages at a time handed to a handler (Lambda's event shape), each deleted
unless the handler's answer names it (ReportBatchItemFailures). The handler is the delivery's
own (chalicelib.events.delivery.handler) unless given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _delivery(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.events.delivery import handler

    return handler(event, context)


class QueueReader:
    def __init__(self, client: Any, queue_url: str, handler: Handler = _delivery) -> None:
        self.client = client
        self.queue_url = queue_url
        self.handler = handler
        self.done = 0  # messages handled and deleted, all told

    def poll(self, wait_seconds: int = 0) -> int:
        """Hand on one batch; returns how many messages it held."""
        answer = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=wait_seconds,
        )
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "eventSource": "aws:sqs",
            }
            for m in messages
        ]
        result = self.handler({"Records": records}, None) or {}
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self.client.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                self.done += 1
        return len(messages)
