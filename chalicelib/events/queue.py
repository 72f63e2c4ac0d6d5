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
import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

logger = logging.getLogger(__name__)

_BATCH = 10  # SendMessageBatch's limit


class Delivery(NamedTuple):
    """One event for one target, as a message carries it."""

    target: str  # "webhook:<url>" or "reaction:<module:function>"
    event: dict[str, Any]  # the event as receivers get it


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def message_group(target: str, user_id: str) -> str:
    return f"{_digest(target)[:32]}:{user_id}"[:128]


def body_of(delivery: Delivery, queued_at: int) -> str:
    """The message: the target, the event, and when it was queued (retries count from it)."""
    message = {"target": delivery.target, "event": delivery.event, "queued_at": queued_at}
    return json.dumps(message, separators=(",", ":"))


REPLAY = "replay"


def replay_job(
    url: str, since: int, until: int, after: tuple[str, str | None] | None = None
) -> Delivery:
    """A replay to the webhook `url` of the events from `since` to `until` (epoch seconds),
    as a message: the delivery function takes it a page at a time, `after` the last event
    (its hour and id) of the page before. One group per webhook: replays to it run in turn."""
    job = {"id": f"{REPLAY}-{since}-{until}-{after or ''}", "user_id": REPLAY}
    job |= {"since": since, "until": until, "after": list(after) if after else None}
    return Delivery(f"{REPLAY}:{url}", job)


def parse(body: str) -> tuple[Delivery, int]:
    message = json.loads(body)
    return Delivery(str(message["target"]), dict(message["event"])), int(message["queued_at"])


def send(
    client: Any,
    queue_url: str,
    deliveries: Sequence[Delivery],
    queued_at: int,
    again: str = "",
) -> None:
    """Put `deliveries` on the queue, in order; raises if any is refused (the caller's record
    is then retried, and what was sent already is de-duplicated). `again` names a replay:
    its copies are new messages, never taken for the first ones."""
    _send(client, queue_url, [body_of(d, queued_at) for d in deliveries], deliveries, again)


def set_aside(client: Any, queue_url: str | None, body: str) -> None:
    """A delivery given up on, into the dead-letter queue as it was (a stage without one, as
    `make dev` may be, logs it; the event stays in the table to replay)."""
    delivery, _ = parse(body)
    if queue_url is None:
        logger.error(
            "no dead-letter queue: delivery of %s set aside in the log", delivery.event["id"]
        )
        return
    _send(client, queue_url, [body], [delivery])


def _send(
    client: Any,
    queue_url: str,
    bodies: Sequence[str],
    deliveries: Sequence[Delivery],
    again: str = "",
) -> None:
    for start in range(0, len(bodies), _BATCH):
        entries = [
            {
                "Id": str(index),
                "MessageBody": body,
                "MessageGroupId": message_group(d.target, d.event["user_id"]),
                "MessageDeduplicationId": _digest(f"{d.event['id']}\n{d.target}\n{again}"),
            }
            for index, (body, d) in enumerate(
                zip(bodies[start : start + _BATCH], deliveries[start : start + _BATCH], strict=True)
            )
        ]
        answer = client.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if answer.get("Failed"):
            codes = sorted({f.get("Code", "?") for f in answer["Failed"]})
            raise RuntimeError(f"the queue refused {len(answer['Failed'])}: {codes}")
