"""Counters for throttling and rate limits: pk `THROTTLE#<kind>#<value>`, e.g.
`THROTTLE#email#ann@example.com`; count, last_at, expires_at (TTL, and the moment the counter
is forgotten). Lambda containers share no memory, so every limit lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from chalicelib.errors import AppError, ServiceUnavailable
from chalicelib.store.table import Conflict, Item, Read, Table, Write, delete, put, update

_ATTEMPTS = 4


class Counter(NamedTuple):
    count: int
    last_at: int
    expires_at: int


CounterKey = tuple[str, str]  # (kind, value)


def counter_pk(counter: CounterKey) -> str:
    kind, value = counter
    return f"THROTTLE#{kind}#{value}"


class CounterItems:
    def __init__(self, table: Table) -> None:
        self._table = table

    def read(self, counter: CounterKey) -> Read:
        return Read(counter_pk(counter), _counter)

    def replace(self, counter: CounterKey, seen: Counter | None, new: Counter, now: int) -> Write:
        """Write `new` only if the counter is still as it was read (`seen`; None: missing or
        forgotten): the optimistic one-call path. Conflict when another request wrote first."""
        item = {
            "pk": {"S": counter_pk(counter)},
            "count": {"N": str(new.count)},
            "last_at": {"N": str(new.last_at)},
            "expires_at": {"N": str(new.expires_at)},
        }
        if seen is None:
            return put(
                item,
                "attribute_not_exists(pk) OR expires_at <= :now",
                values={":now": {"N": str(now)}},
                on_condition_failed=Conflict,
            )
        return put(
            item,
            "#count = :n AND expires_at = :e",
            values={":n": {"N": str(seen.count)}, ":e": {"N": str(seen.expires_at)}},
            names={"#count": "count"},
            on_condition_failed=Conflict,
        )

    def add(
        self, counter: CounterKey, now: int, forget_at: int, *, sliding: bool = False
    ) -> Counter:
        """Count one event atomically and return the counter; the race-safe path.

        A live counter is incremented with ADD, so concurrent events are never lost; a missing
        or forgotten one (`expires_at <= now`) is restarted at 1, conditionally, so two
        concurrent restarts cannot both win. `forget_at` becomes the expiry of a new counter,
        and with `sliding` of a live one too (forgotten that long after the last event).
        """
        values = {":one": {"N": "1"}, ":now": {"N": str(now)}}
        expression = "ADD #count :one SET last_at = :now"
        if sliding:
            expression += ", expires_at = :forget"
            values[":forget"] = {"N": str(forget_at)}
        increment = update(
            counter_pk(counter),
            expression,
            "expires_at > :now",
            values=values,
            names={"#count": "count"},
        )
        fresh = Counter(count=1, last_at=now, expires_at=forget_at)
        for _ in range(_ATTEMPTS):
            item = self._table.update_returning(increment)
            if item is not None:
                return _counter(item)
            if self._table.try_commit(self.replace(counter, None, fresh, now)):
                return fresh
        raise ServiceUnavailable()

    def keep_until(self, counter: CounterKey, expires_at: int) -> None:
        """Push a counter's expiry later (never earlier), e.g. past the lockout it caused."""
        self._table.try_commit(
            update(
                counter_pk(counter),
                "SET expires_at = :e",
                "attribute_exists(pk) AND expires_at < :e",
                values={":e": {"N": str(expires_at)}},
            )
        )

    def delete(self, counter: CounterKey) -> Write:
        return delete(counter_pk(counter))

    def delete_below(
        self, counter: CounterKey, limit: int, now: int, error: Callable[[], AppError]
    ) -> Write:
        """Delete the counter only while it is under `limit` (or forgotten, or missing): a
        success clears the count, unless parallel failures reached the limit first (`error`)."""
        return delete(
            counter_pk(counter),
            "attribute_not_exists(pk) OR #count < :limit OR expires_at <= :now",
            values={":limit": {"N": str(limit)}, ":now": {"N": str(now)}},
            names={"#count": "count"},
            on_condition_failed=error,
        )


def _counter(item: Item) -> Counter:
    return Counter(
        count=int(item["count"]["N"]),
        last_at=int(item["last_at"]["N"]),
        expires_at=int(item["expires_at"]["N"]),
    )
