"""Limits on how often something may happen, held in DynamoDB counters so they hold across
Lambda containers: at most `max` events per `window`, the window starting at the first event.

Uses: rate limits (`spend`: count the event, refuse it once over the limit), and guarded
attempts (`attempt`: refused while locked, else counted before they are tried, so parallel
guesses cannot outrun the limit; the lock lasts a window after the last counted attempt; a
success `clear`s the count).
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.clock import Clock
from chalicelib.errors import TooManyAttempts
from chalicelib.store import Store
from chalicelib.store.counters import Counter
from chalicelib.store.table import Read, Write

TOO_MANY_REQUESTS = "Too many requests. Wait a little and try again."


class Limit(NamedTuple):
    kind: str
    max: int
    window: int  # seconds
    message: str = TOO_MANY_REQUESTS


# Every limit the email flows apply, in one place.
VERIFICATION_SENDS = Limit("send-verify", 3, 10 * 60)  # per user
EMAIL_CHANGE_SENDS = Limit("send-change", 3, 10 * 60)  # per user
CODE_FAILURES = Limit("code", 5, 30 * 60, "Too many wrong codes. Wait a little and try again.")
RESETS_PER_EMAIL = Limit("reset-email", 3, 60 * 60)  # whether or not an account exists
RESETS_PER_IP = Limit("reset-ip", 20, 60 * 60)
PASSKEY_OPTIONS_PER_IP = Limit("passkey-options", 30, 60)  # challenges asked for
# Sign-in and re-authentication codes (flows.codes), per address (counted for any address,
# account or not), each purpose its own count; the sends of both per IP.
LOGIN_CODE_SENDS = Limit("send-login-code", 3, 10 * 60)
REAUTHENTICATION_CODE_SENDS = Limit("send-reauth-code", 3, 10 * 60)
CODE_SENDS_PER_IP = Limit("send-code-ip", 20, 60 * 60)
_WRONG_CODES = "Too many wrong codes. Wait a little and try again."
LOGIN_CODE_FAILURES = Limit("login-code", 5, 30 * 60, _WRONG_CODES)  # wrong codes only
REAUTHENTICATION_CODE_FAILURES = Limit("reauth-code", 5, 30 * 60, _WRONG_CODES)
# 5 consecutive wrong second factors lock the user's second step for 15 minutes.
TWO_FACTOR_ATTEMPTS = Limit(
    "2fa", 5, 15 * 60, "Too many wrong codes. Wait 15 minutes and try again."
)


class Limits:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def read(self, limit: Limit, value: str) -> Read:
        return self._store.counters.read((limit.kind, value))

    def check(self, limit: Limit, counter: Counter | None) -> None:
        """Refuse (429) while `counter`, as read, has reached the limit."""
        now = self._clock.now()
        if counter is not None and now < counter.expires_at and counter.count >= limit.max:
            raise TooManyAttempts(counter.expires_at - now, limit.message)

    def spend(self, limit: Limit, value: str) -> None:
        """Count one event atomically; refuse it (429) when it is over the limit."""
        now = self._clock.now()
        counter = self._store.counters.add((limit.kind, value), now, now + limit.window)
        if counter.count > limit.max:
            raise TooManyAttempts(counter.expires_at - now, limit.message)

    def attempt(self, limit: Limit, value: str, seen: Counter | None) -> None:
        """Refuse (429) while locked, as `seen` was read; else count this attempt before it is
        tried (a success clears the count), refusing it if parallel attempts got there first."""
        self.check(limit, seen)
        now = self._clock.now()
        counter = self._store.counters.add(
            (limit.kind, value), now, now + limit.window, sliding=True
        )
        if counter.count > limit.max:
            raise TooManyAttempts(counter.expires_at - now, limit.message)

    def first(self, limit: Limit, value: str) -> Write:
        """The write that starts a fresh counter at one event (for a user who is new)."""
        now = self._clock.now()
        return self._store.counters.replace(
            (limit.kind, value), None, Counter(1, now, now + limit.window), now
        )

    def clear(self, limit: Limit, value: str) -> Write:
        return self._store.counters.delete((limit.kind, value))

    def clear_unless_reached(self, limit: Limit, value: str, seen: Counter | None) -> Write:
        """A success's write: the count cleared, on condition that it is still under the
        limit; else (parallel failures got there first) 429, as the counter was read or would
        start."""
        now = self._clock.now()
        until = (
            seen.expires_at if seen is not None and now < seen.expires_at else now + limit.window
        )

        def locked() -> TooManyAttempts:
            return TooManyAttempts(until - now, limit.message)

        return self._store.counters.delete_below((limit.kind, value), limit.max, now, locked)
