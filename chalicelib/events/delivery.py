"""Delivery: a Lambda function of its own, fed the delivery queue (SQS FIFO), that hands each
event to its target, a webhook (signed, Standard Webhooks) or one of the team's reactions.

A delivery that fails is retried after a wait that grows with each failed try (`WAITS`: half a
minute, then longer, up to a day), with the same `webhook-id` every time, until the next try
would come after WEBHOOK_GIVE_UP from when the event was queued: then the endpoint is marked
failing, the audit log says so, and the delivery goes to the dead-letter queue, never dropped
(the event itself stays in the table for EVENT_RETENTION, to replay). A failed try is written
down (store.webhooks: its count and when the next is due), and the message is hidden until
then through its visibility timeout; SQS allows 12 hours at most, so a message that wakes
early finds its try not yet due and sleeps again. Each target's messages of one user are one
message group, so the user's events arrive in order: while one waits to be retried, the ones
after it wait too.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.audit import Event
from chalicelib.events import payload
from chalicelib.events.queue import REPLAY, Delivery, parse, replay_job, send, set_aside
from chalicelib.store.events import event_hour

logger = logging.getLogger(__name__)

# The wait after each failed try; after the last, a day each.
WAITS = (30, 5 * 60, 30 * 60, 2 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)
_MAX_VISIBILITY = 12 * 3600  # SQS's limit
_KEEP_AFTER_GIVING_UP = 24 * 3600
_REPLAY_PAGE = 100


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib import runtime

    return deliver_batch(runtime.get(), event.get("Records", []))


def wait_after(tries: int) -> int:
    """The wait after the `tries`-th failed try."""
    return WAITS[min(tries, len(WAITS)) - 1]


def deliver_batch(services: Any, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Deliver `records` (Lambda's SQS shape); the answer names those to be retried."""
    failures: list[dict[str, str]] = []
    waiting: set[str] = set()  # message groups with a delivery waiting: the rest wait behind
    for record in records:
        group = record.get("attributes", {}).get("MessageGroupId", "")
        if group in waiting:
            # Untried: back in the queue at once, behind the one that waits, which keeps its
            # group from being received before it is (else they would hold the group for the
            # queue's whole visibility timeout).
            _wait(services, record, 0)
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
    message_id = record["messageId"]
    received = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    # A first receive has never failed: it reads nothing.
    tries, due = services.store.webhooks.tries(message_id) if received > 1 else (0, 0)
    if now < due:
        _wait(services, record, due - now)
        return False
    error = attempt(services, delivery)
    if error is None:
        return True
    tries += 1
    next_try = now + wait_after(tries)
    give_up = queued_at + int(services.settings.webhook_give_up.total_seconds())
    if next_try > give_up:
        _give_up(services, delivery, error, record)
        return True
    event_id = delivery.event["id"]
    logger.warning("delivery of %s to %s failed (%s)", event_id, _name(delivery), error)
    services.store.webhooks.failed(message_id, tries, next_try, give_up + _KEEP_AFTER_GIVING_UP)
    _wait(services, record, next_try - now)
    return False


def attempt(services: Any, delivery: Delivery) -> str | None:
    """Deliver once: None when it landed, else what went wrong (no secret, no body)."""
    kind, _, name = delivery.target.partition(":")
    if kind == "webhook":
        return _post(services, name, delivery.event)
    if kind == "reaction":
        return _react(services, name, delivery.event)
    if kind == REPLAY:
        return _replay(services, name, delivery.event)
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
    found = [r for r in services.hooks.reactions(event["type"]) if r.name == name]
    if not found:  # the module changed since the event was queued: retried, then set aside
        return f"no reaction {name} in HOOKS_MODULE"
    try:
        found[0].handler(event)
    except Exception as error:  # the team's code: whatever it raises is retried
        logger.exception("reaction %s failed on %s", name, event["id"])
        return type(error).__name__
    return None


def _replay(services: Any, url: str, job: dict[str, Any]) -> str | None:
    """One page of a replay: the webhook's events of it queued again (their ids unchanged),
    then the job for the page after, behind them. Hours with nothing in them are passed over,
    a day of them at most in one go."""
    endpoint = next((e for e in services.webhooks if e.url == url), None)
    queue_url = services.settings.webhook_queue_url
    if endpoint is None or queue_url is None:
        return None  # the webhook was removed since: nothing is owed to it
    since, until = int(job["since"]), int(job["until"])
    hour, after = job["after"] or (event_hour(since), None)
    deliveries: list[Delivery] = []
    done = False
    for _ in range(24):
        events, after = services.store.events.in_hour(hour, after_id=after, limit=_REPLAY_PAGE)
        deliveries += [
            Delivery(f"webhook:{url}", payload(event))
            for event in events
            if since * 1000 <= event.occurred_at <= until * 1000 and event.type in endpoint.events
        ]
        if after is not None:
            break  # more of this hour, on the next page
        hour = _next_hour(hour)
        done = _hour_start(hour) > until
        if done or deliveries:
            break
    if not done:
        deliveries.append(replay_job(url, since, until, (hour, after)))
    if deliveries:
        send(services.queue, queue_url, deliveries, services.clock.now(), again=job["id"])
    return None


def _next_hour(hour: str) -> str:
    return event_hour(_hour_start(hour) + 3600)


def _hour_start(hour: str) -> int:
    return int(datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC).timestamp())


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
    now = services.clock.now()
    services.store.webhooks.mark_failing(delivery.target, _name(delivery), now, error)
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
    """A target as logs may show it: a webhook's (or a replay's) URL without its query."""
    from chalicelib.webhooks.endpoints import shown

    kind, _, name = delivery.target.partition(":")
    return f"{kind}:{name if kind == 'reaction' else shown(name)}"
