"""A user's security activity: their events (chalicelib.events), newest first, a page at a time.

The user reads their own (GET /auth/events, the settings page); holders of `audit:read` read
anyone's (flows.admin). Events older than EVENT_RETENTION are never shown, even before the
table's TTL has removed them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from chalicelib.errors import InvalidRequest
from chalicelib.events import payload
from chalicelib.flows.context import Access, RequestContext

MAX_PAGE = 100
DEFAULT_PAGE = 20
_MAX_CURSOR_DIGITS = 18


class EventPage(NamedTuple):
    events: list[dict[str, Any]]  # as receivers get them (chalicelib.events.payload)
    next_cursor: str | None


def own_events(ctx: RequestContext, cursor: str | None, limit: int | None) -> EventPage:
    current = ctx.require(Access.ACCOUNT)
    return page_of(ctx, current.user.id, cursor, limit)


def page_of(ctx: RequestContext, user_id: str, cursor: str | None, limit: int | None) -> EventPage:
    """One page of `user_id`'s events, after `cursor` (a page's `next_cursor`)."""
    if limit is None:
        limit = DEFAULT_PAGE
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit is a whole number from 1 to {MAX_PAGE}.")
    before = None
    if cursor:
        if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= _MAX_CURSOR_DIGITS):
            raise InvalidRequest("The cursor is not one this list gave.")
        before = int(cursor)
    services = ctx.services
    events = services.store.events.of_user(user_id, limit=limit, before_seq=before)
    oldest_kept = (services.clock.now() - services.settings.event_retention.total_seconds()) * 1000
    shown = [payload(event) for event in events if event.occurred_at > oldest_kept]
    more = len(events) == limit and len(shown) == len(events) and events[-1].seq > 1
    return EventPage(shown, str(events[-1].seq) if more else None)
