"""The delivery queue: one SQS FIFO message per event and target (a webhook or a reaction).

Each message's group is its target and user, so each target gets each user's events in
order, one at a time, and a target that is down holds up only its own messages. The message's
deduplication id is its event and target: a record processed twice (a retried batch) sends
again, and SQS drops the copy within its five-minute window; past that, receivers de-duplicate
by `webhook-id`, which is the event's id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

_BATCH = 10  # SendMessageBatch's limit


class Delivery(NamedTuple):
    """One event for one target, as a message carries it."""

    target: str  # "webhook:<url>" or "reaction:<module:function>"
    event: dict[str, Any]  # the event as receivers get it


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def message_group(target: str, user_id: str) -> str:
    return f"{_digest(target)[:32]}:{user_id}"[:128]


def send(client: Any, queue_url: str, deliveries: Sequence[Delivery]) -> None:
    """Put `deliveries` on the queue, in order; raises if any is refused (the caller's record
    is then retried, and what was sent already is de-duplicated)."""
    for start in range(0, len(deliveries), _BATCH):
        entries = [
            {
                "Id": str(index),
                "MessageBody": json.dumps(
                    {"target": d.target, "event": d.event}, separators=(",", ":")
                ),
                "MessageGroupId": message_group(d.target, d.event["user_id"]),
                "MessageDeduplicationId": _digest(f"{d.event['id']}\n{d.target}"),
            }
            for index, d in enumerate(deliveries[start : start + _BATCH])
        ]
        answer = client.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if answer.get("Failed"):
            codes = sorted({f.get("Code", "?") for f in answer["Failed"]})
            raise RuntimeError(f"the delivery queue refused {len(answer['Failed'])}: {codes}")


def parse(body: str) -> Delivery:
    message = json.loads(body)
    return Delivery(str(message["target"]), dict(message["event"]))
