"""Delivery: a Lambda function of its own, fed the delivery queue (SQS FIFO), that hands each
event to its target, a webhook (signed, Standard Webhooks) or one of the team's reactions.

A delivery that fails is retried on a schedule measured from when its event was queued
(`RETRY_AT`: half a minute, then longer, the waits growing to a day), with the same
`webhook-id` every time, until WEBHOOK_GIVE_UP has passed: then the endpoint is marked failing,
the audit log says so, and the delivery goes to the dead-letter queue, never dropped (the
event itself stays in the table for EVENT_RETENTION, to replay). The queue's visibility timeout
is the wait: SQS allows at most 12 hours, so a longer wait is taken in two, the first waking
only to sleep again. Each target's messages of one user are one message group, so the user's
events arrive in order: while one waits to be retried, the ones after it wait too, and they
are reported failed with it, untried.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from chalicelib.audit import Event
from chalicelib.events.queue import Delivery, parse

logger = logging.getLogger(__name__)

# When each retry is due, in seconds after the event was queued; then a day apart.
RETRY_AT = (30, 5 * 60, 30 * 60, 2 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)
_DAY = 24 * 3600
_MAX_VISIBILITY = 12 * 3600  # SQS's limit
# A wake that finds the last due time this long past is the first half of a long wait.
_HALFWAY = 6 * 3600


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib import runtime

    return deliver_batch(runtime.get(), event.get("Records", []))


def retry_times(give_up: int) -> list[int]:
    """Every retry's due time after queueing, up to `give_up` seconds."""
    due = [t for t in RETRY_AT if t < give_up]
    while due and due[-1] + _DAY < give_up:
        due.append(due[-1] + _DAY)
    return due


def next_retry(elapsed: int, give_up: int) -> int | None:
    """Seconds until the next retry of a delivery queued `elapsed` seconds ago (None: give up)."""
    later = [t for t in retry_times(give_up) if t > elapsed]
    return later[0] - elapsed if later else None


def _due_now(elapsed: int, give_up: int) -> bool:
    """Is a try due, or is this the first half of a long wait?"""
    past = [t for t in [0, *retry_times(give_up)] if t <= elapsed]
    return elapsed - past[-1] < _HALFWAY


def deliver_batch(services: Any, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Deliver `records` (Lambda's SQS shape); the answer names those to be retried."""
    failures: list[dict[str, str]] = []
    waiting: set[str] = set()  # message groups with a delivery waiting: the rest wait behind
    for record in records:
        group = record.get("attributes", {}).get("MessageGroupId", "")
        if group in waiting:
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        if not _deliver(services, record):
            failures.append({"itemIdentifier": record["messageId"]})
            waiting.add(group)
    return {"batchItemFailures": failures}


def _deliver(services: Any, record: dict[str, Any]) -> bool:
    """True when the message is done with (delivered, or given up and set aside)."""
    delivery, queued_at = parse(record["body"])
    now = services.clock.now()
    elapsed = max(0, now - queued_at)
    give_up = int(services.settings.webhook_give_up.total_seconds())
    if not _due_now(elapsed, give_up):
        _wait(services, record, next_retry(elapsed, give_up) or 0)
        return False
    error = attempt(services, delivery)
    if error is None:
        return True
    wait = next_retry(elapsed, give_up)
    if wait is not None:
        logger.warning(
            "delivery of %s to %s failed (%s)", delivery.event["id"], _name(delivery), error
        )
        _wait(services, record, wait)
        return False
    _give_up(services, delivery, error, record)
    return True


def attempt(services: Any, delivery: Delivery) -> str | None:
    """Deliver once: None when it landed, else what went wrong (no secret, no body)."""
    kind, _, name = delivery.target.partition(":")
    if kind == "webhook":
        return _post(services, name, delivery.event)
    if kind == "reaction":
        return _react(services, name, delivery.event)
    return f"unknown target kind {kind!r}"


def _post(services: Any, url: str, event: dict[str, Any]) -> str | None:
    from chalicelib.webhooks.endpoints import deliver
    from chalicelib.webhooks.signing import headers

    body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
    # The event's id on every try (receivers de-duplicate by it); the time of this try.
    signed = headers(services.webhook_secrets, event["id"], int(time.time()), body)
    local = not services.settings.cookie_secure
    outcome = deliver(url, signed, body, allow_private=local)
    if outcome.ok:
        return None
    return f"HTTP {outcome.status}" if outcome.status else outcome.error


def _react(services: Any, name: str, event: dict[str, Any]) -> str | None:
    reaction = services.hooks.reaction(name)
    if reaction is None:
        return f"no reaction {name} in HOOKS_MODULE"
    try:
        reaction(event)
    except Exception as error:  # the team's code: whatever it raises is retried
        logger.exception("reaction %s failed on %s", name, event["id"])
        return type(error).__name__
    return None


def _wait(services: Any, record: dict[str, Any], seconds: int) -> None:
    """Make the message visible again in `seconds` (at most SQS's 12 hours)."""
    queue_url = services.settings.webhook_queue_url
    if queue_url is None:
        return
    services.queue.change_message_visibility(
        QueueUrl=queue_url,
        ReceiptHandle=record["receiptHandle"],
        VisibilityTimeout=max(0, min(seconds, _MAX_VISIBILITY)),
    )


def _give_up(services: Any, delivery: Delivery, error: str, record: dict[str, Any]) -> None:
    from chalicelib.events.queue import set_aside

    services.store.webhooks.mark_failing(delivery.target, services.clock.now(), error)
    services.audit.record(
        Event.WEBHOOK_GAVE_UP,
        user_id=delivery.event.get("user_id"),
        ip="",
        user_agent="chalicelib.events.delivery",
        target=_name(delivery),
        event_id=delivery.event["id"],
        error=error[:200],
    )
    set_aside(services.queue, services.settings.webhook_dead_letter_queue_url, record["body"])


def describe(body: str) -> tuple[str, str]:
    """A message's target, as logs may show it, and its event's id."""
    delivery, _ = parse(body)
    return _name(delivery), str(delivery.event["id"])


def _name(delivery: Delivery) -> str:
    """A target as logs may show it: a webhook's URL without its query."""
    kind, _, name = delivery.target.partition(":")
    return f"{kind}:{name.split('?', 1)[0]}"
