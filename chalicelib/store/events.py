"""Events: each user's numbered log of what happened to their account (chalicelib.events).

- event: pk `EVENT#<event id>`; event_user_id, event_seq (the user's count: the `user_events`
  index, newest last), event_type, occurred_at (epoch milliseconds), data (compact JSON of
  ids, names and flags: never a secret), expires_at (EVENT_RETENTION after it happened, TTL).
- the user's counter: pk `EVENTSEQ#<user id>`; seq, the last number given. It outlives the
  events (no TTL): numbers never start over, so a receiver never sees one twice.

Only the stream's consumer writes them, one event per transaction: the counter moves from
what was read and the event is put only if new, so a record processed twice (a retried batch)
finds its event already there and gets the same number back, and two consumers numbering one
user's events at once (records of two items, in two shards) never take the same number or
leave a gap.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from chalicelib.errors import AppError
from chalicelib.store.table import (
    EVENTS_BY_TIME,
    USER_EVENTS,
    Conflict,
    Item,
    Read,
    Table,
    Write,
    put,
    update,
)

_ATTEMPTS = 20  # counter races between shards of one user: each retry re-reads


class EventRecord(NamedTuple):
    id: str
    type: str
    occurred_at: int  # epoch milliseconds
    user_id: str
    seq: int
    data: dict[str, Any]


class _AlreadyRecorded(AppError):
    """Internal: the event's item exists (the record was processed before)."""


def event_pk(event_id: str) -> str:
    return f"EVENT#{event_id}"


def counter_pk(user_id: str) -> str:
    return f"EVENTSEQ#{user_id}"


class EventItems:
    def __init__(self, table: Table) -> None:
        self._table = table

    def record(
        self, event: EventRecord, expires_at: int, with_it: Sequence[Write] = ()
    ) -> EventRecord:
        """Store `event` as its user's next (its `seq` is ignored), unless it is stored
        already; returns it as stored, with its number. `with_it` is written in the same
        transaction: exactly once per event, however often its record is handled."""
        for _ in range(_ATTEMPTS):
            stored, last = self._table.read(
                Read(event_pk(event.id), _record),
                Read(counter_pk(event.user_id), lambda item: int(item["seq"]["N"])),
            )
            if stored is not None:
                return stored
            numbered = event._replace(seq=(last or 0) + 1)
            if last is None:
                moved = "attribute_not_exists(pk)"
                values = {":n": {"N": "1"}}
            else:
                moved = "seq = :last"
                values = {":n": {"N": str(numbered.seq)}, ":last": {"N": str(last)}}
            try:
                self._table.commit(
                    # First: when both fail, "already recorded" is what happened.
                    put(
                        _item(numbered, expires_at),
                        "attribute_not_exists(pk)",
                        on_condition_failed=_AlreadyRecorded,
                    ),
                    update(
                        counter_pk(event.user_id),
                        "SET seq = :n",
                        moved,
                        values=values,
                        on_condition_failed=Conflict,
                    ),
                    *with_it,
                )
            except _AlreadyRecorded:
                continue  # read it back
            except Conflict:
                continue  # another event of this user took the number: take the next
            return numbered
        raise Conflict()

    def of_user(
        self, user_id: str, *, limit: int, before_seq: int | None = None
    ) -> list[EventRecord]:
        """The user's events, newest first, `limit` at most, those before `before_seq` when
        given (one Query of the index; expired events the TTL has not removed yet are left
        to the caller, which knows the time)."""
        condition = "event_user_id = :u"
        values: Item = {":u": {"S": user_id}}
        if before_seq is not None:
            condition += " AND event_seq < :before"
            values[":before"] = {"N": str(before_seq)}
        events, _ = self._page(USER_EVENTS, condition, values, limit, newest_first=True)
        return events

    def in_hour(
        self, hour: str, *, after_id: str | None, limit: int
    ) -> tuple[list[EventRecord], str | None]:
        """Every user's events of one hour (`event_hour`) in id order, those after `after_id`;
        and the id to go on after (None: the hour is done)."""
        condition = "event_hour = :h"
        values: Item = {":h": {"S": hour}}
        if after_id is not None:
            condition += " AND pk > :after"
            values[":after"] = {"S": event_pk(after_id)}
        events, more = self._page(EVENTS_BY_TIME, condition, values, limit)
        return events, (events[-1].id if more and events else None)

    def _page(
        self, index: str, condition: str, values: Item, limit: int, *, newest_first: bool = False
    ) -> tuple[list[EventRecord], bool]:
        """One page of an events index: its events, and whether there is more."""
        items, more = self._table.query_page(
            IndexName=index,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ScanIndexForward=not newest_first,
            Limit=limit,
        )
        return [_record(item) for item in items], more is not None


def event_hour(epoch_seconds: int) -> str:
    """The `events_by_time` partition of an instant: its hour, `2026-12-06T10`."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H")


def _item(event: EventRecord, expires_at: int) -> Item:
    return {
        "pk": {"S": event_pk(event.id)},
        "event_user_id": {"S": event.user_id},
        "event_seq": {"N": str(event.seq)},
        "event_type": {"S": event.type},
        "occurred_at": {"N": str(event.occurred_at)},
        "event_hour": {"S": event_hour(event.occurred_at // 1000)},
        "data": {"S": json.dumps(event.data, separators=(",", ":"), sort_keys=True)},
        "expires_at": {"N": str(expires_at)},
    }


def _record(item: Item) -> EventRecord:
    return EventRecord(
        id=item["pk"]["S"].removeprefix("EVENT#"),
        type=item["event_type"]["S"],
        occurred_at=int(item["occurred_at"]["N"]),
        user_id=item["event_user_id"]["S"],
        seq=int(item["event_seq"]["N"]),
        data=json.loads(item["data"]["S"]),
    )
