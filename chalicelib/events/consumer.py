"""The stream's consumer: a Lambda function of its own, fed the table's DynamoDB Stream.

For each record, in order (a new account's first): its events (chalicelib.events.derive) are
numbered and stored (store.events: exactly once, however often the record comes), then put on
the delivery queue for every webhook and reaction that wants them. A record that fails stops
the batch there and is reported as the batch's failure (ReportBatchItemFailures): Lambda
retries from it, and what was done already is not done twice (its events are found stored,
their messages de-duplicated). After its retries (the event source mapping's
MaximumRetryAttempts) a record goes to the failure queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalicelib.events import payload, targets
from chalicelib.events.derive import events_of
from chalicelib.events.queue import Delivery, send
from chalicelib.store.events import EventRecord

logger = logging.getLogger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib import runtime

    return consume(runtime.get(), event.get("Records", []))


def consume(
    services: Any,
    records: list[dict[str, Any]],
    on_event: Callable[[EventRecord], None] | None = None,
) -> dict[str, Any]:
    """Handle `records`; the answer names the earliest not handled (none: all done).
    `on_event` sees each event stored (`make dev` prints them)."""
    done: set[int] = set()
    for index in _in_causal_order(records):
        record = records[index]
        try:
            stored = handle(services, record)
        except Exception:
            # The record's images stay out of the log: they hold hashes and addresses.
            logger.exception(
                "stream record %s (%s) failed; retried from it",
                record.get("eventID"),
                record.get("eventName"),
            )
            # Lambda retries the batch from the one named, in the stream's order; what was
            # handled after it is found done when it comes again.
            first = min(i for i in range(len(records)) if i not in done)
            sequence = records[first]["dynamodb"]["SequenceNumber"]
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
        done.add(index)
        if on_event is not None:
            for event in stored:
                on_event(event)
    return {"batchItemFailures": []}


def _in_causal_order(records: list[dict[str, Any]]) -> list[int]:
    """The records' positions, a new account's first and a deleted one's last: the items of one
    transaction (a sign-up's account and first session) reach the stream in no set order, and
    a user's log should begin with `user.created` and end with `user.deleted`."""

    def rank(index: int) -> int:
        record = records[index]
        if not record["dynamodb"]["Keys"]["pk"]["S"].startswith("USER#"):
            return 1
        return {"INSERT": 0, "REMOVE": 2}.get(record.get("eventName", ""), 1)

    return sorted(range(len(records)), key=rank)


def handle(services: Any, record: dict[str, Any]) -> list[EventRecord]:
    """Store a record's events and queue their deliveries; returns them as stored."""
    retention = int(services.settings.event_retention.total_seconds())
    stored = []
    store = services.store
    for event in events_of(record):
        with_it = []
        if event.type == "user.password_upgraded":
            # One account less holds that imported format: once its count reaches 0, failed
            # sign-ins stop waiting out its verifier (chalicelib.users.failure_seconds).
            with_it.append(store.imports.upgraded(event.data["from_format"]))
        stored.append(store.events.record(event, event.occurred_at // 1000 + retention, with_it))
    deliveries = [
        Delivery(target, payload(event))
        for event in stored
        for target in targets.wanting(services, event.type)
    ]
    if deliveries:
        queue_url = services.settings.webhook_queue_url
        if queue_url is None:
            logger.warning("%d deliveries, but WEBHOOK_QUEUE_URL is unset", len(deliveries))
        else:
            send(services.queue, queue_url, deliveries, services.clock.now())
    return stored
