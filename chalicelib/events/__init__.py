"""Events: what happened to a user, derived from the table's own DynamoDB Stream.

A change and its event are one write because the event is read from the change itself: the
stream holds exactly the writes that landed, so a write that failed has no event and no write
lands without one. The consumer (chalicelib.events.consumer, a Lambda function of its own fed
by the stream) turns each stream record into events, numbers each user's events (`seq`), keeps
them for EVENT_RETENTION, and hands each to the webhooks and the team's reactions
(chalicelib.events.delivery, through an SQS FIFO queue). Requests pay nothing for it.

This module is the catalogue alone, cheap to import: the API reads a user's events through
chalicelib.store; nothing here loads on a protected request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.clock import isoformat

if TYPE_CHECKING:
    from chalicelib.store.events import EventRecord

# Every event type a webhook or a reaction may subscribe to (docs/events.md: the payloads).
EVENT_TYPES: tuple[str, ...] = (
    "user.created",
    "user.updated",
    "user.deleted",
    "user.email_verified",
    "user.password_changed",
    "user.password_upgraded",
    "user.data_exported",
    "user.two_factor_enabled",
    "user.two_factor_disabled",
    "user.passkey_added",
    "user.passkey_removed",
    "user.identity_linked",
    "user.identity_unlinked",
    "user.banned",
    "user.unbanned",
    "user.roles_changed",
    "session.created",
    "session.revoked",
    "impersonation.started",
    "org.member_added",
    "org.member_removed",
    "org.member_role_changed",
)

# The stream records that can make an event: every change of a user, an email claim or a
# membership of an organization, and a session's start and end (its extensions and activity
# refreshes, most of its writes, never make one). The stream's event source mapping lets only
# these through (Lambda's event filtering: the patterns are ORed), so neither those nor the
# consumer's own writes invoke it.
STREAM_FILTERS: tuple[dict[str, Any], ...] = (
    {
        "dynamodb": {
            "Keys": {
                "pk": {"S": [{"prefix": "USER#"}, {"prefix": "EMAIL#"}, {"prefix": "MEMBER#"}]}
            }
        }
    },
    {
        "eventName": ["INSERT", "REMOVE"],
        "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "SESSION#"}]}}},
    },
)

# The Lambda handlers `make package` adds beside the API's, from the same zip.
CONSUMER_HANDLER = "chalicelib.events.consumer.handler"
DELIVERY_HANDLER = "chalicelib.events.delivery.handler"


def payload(event: EventRecord) -> dict[str, Any]:
    """The event as webhooks, reactions and GET /auth/events show it."""
    seconds, millis = divmod(event.occurred_at, 1000)
    return {
        "id": event.id,
        "type": event.type,
        "occurred_at": isoformat(seconds).removesuffix("Z") + f".{millis:03d}Z",
        "user_id": event.user_id,
        "seq": event.seq,
        "data": event.data,
    }
