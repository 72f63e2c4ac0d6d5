"""Limits on how often something may happen, held in DynamoDB counters so they hold across
Lambda containers: at most `max` events per `window`, the window starting at the first event
(or, for a `sliding` limit, at the last one: a lock then lasts a window after the last event).

Two uses:
- rate limits (`spend`): count the event, refuse it once over the limit;
- guarded guesses (codes): refused while the count of wrong ones, as read, has reached the limit
  (`check`); a wrong guess is counted before it is answered (`spend`: 429 once over the limit),
  so parallel guesses get at most `max` answers; a right one's write clears the count on
  condition that it is still under the limit (`clear_unless_reached`), so a right guess among
  parallel wrong ones that reached the limit is refused too. A right code that is refused only
  because a copy of itself won the race is not counted: it is no guess.

Per-IP limits count under `client_ip.limit_key` (an IPv6 client's /64).
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.clock import Clock
from chalicelib.errors import TooManyAttempts
from chalicelib.store import Store
from chalicelib.store.counters import Counter
from chalicelib.store.table import Read, Write

TOO_MANY_REQUESTS = "Too many requests. Wait a little and try again."
_WRONG_CODES = "Too many wrong codes. Wait a little and try again."


class Limit(NamedTuple):
    kind: str
    max: int
    window: int  # seconds
    message: str = TOO_MANY_REQUESTS
    sliding: bool = False  # the window restarts at each event


# Every fixed limit, in one place (the emailed codes' own: chalicelib.flows.mailed_codes).
RESETS_PER_EMAIL = Limit("reset-email", 3, 60 * 60)  # whether or not an account exists
RESETS_PER_IP = Limit("reset-ip", 20, 60 * 60)
PASSKEY_OPTIONS_PER_IP = Limit("passkey-options", 30, 60)  # challenges asked for
VERIFICATION_SENDS = Limit("send-verify", 3, 10 * 60)  # per user
EMAIL_CHANGE_SENDS = Limit("send-change", 3, 10 * 60)  # per user
# Wrong verification and email-change codes, per user, both purposes together.
CODE_FAILURES = Limit("code", 5, 30 * 60, _WRONG_CODES)
# Sign-in and re-authentication codes, per address (counted for any address, account or not),
# each purpose its own count; the sends of both per IP.
LOGIN_CODE_SENDS = Limit("send-login-code", 3, 10 * 60)
REAUTHENTICATION_CODE_SENDS = Limit("send-reauth-code", 3, 10 * 60)
CODE_SENDS_PER_IP = Limit("send-code-ip", 20, 60 * 60)
LOGIN_CODE_FAILURES = Limit("login-code", 5, 30 * 60, _WRONG_CODES)
REAUTHENTICATION_CODE_FAILURES = Limit("reauth-code", 5, 30 * 60, _WRONG_CODES)
# 5 wrong second factors lock the user's second step for 15 minutes after the last one.
TWO_FACTOR_ATTEMPTS = Limit(
    "2fa", 5, 15 * 60, "Too many wrong codes. Wait 15 minutes and try again.", sliding=True
)
# Sign-ups per normalised address, counted whatever the answer (SIGNUP_IP_MAX: per IP).
SIGNUPS_PER_EMAIL = Limit("signup-email", 3, 10 * 60)
# Invitations to organizations sent, per inviter (flows.invitations): each one mails an address.
INVITATION_SENDS = Limit("org-invite", 20, 60 * 60)
# A user's copies of their own data (GET /auth/account/export): each reads every item of theirs.
DATA_EXPORTS = Limit("data-export", 5, 24 * 60 * 60)


def signups_per_ip(maximum: int) -> Limit:
    """Sign-ups per client address an hour, every answer counted (a 409 tells whether an
    address has an account): SIGNUP_IP_MAX."""
    return Limit("signup-ip", maximum, 60 * 60)


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
        counter = self._store.counters.add(
            (limit.kind, value), now, now + limit.window, sliding=limit.sliding
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
