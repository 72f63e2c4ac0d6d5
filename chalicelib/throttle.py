"""Login throttling (ASVS 6.1.1, 6.3.1): failure counters per normalised email and per source
IP, kept in DynamoDB because Lambda containers share no memory.

Once a key reaches its threshold, attempts get 429 until `lockout(n)` has passed since its last
failure, where lockout(n) = base * 2^(n - threshold), capped at the maximum: each further
failure doubles the wait. Attempts refused with 429 are not verified and do not count, so a
correct password during a lockout does not get through, and waiting always helps (exponential
waits, not a hard lockout an attacker could keep an owner in forever). A counter is forgotten
one window after its first failure, or one window after the lockout its last failure caused,
whichever ends later.

A password check reads the counters in the same round trip as the credentials (`reads`), and a
failure records both counters in one call, conditional on what was read; only when another
request wrote one of them meanwhile does it fall back to atomic per-counter increments, so
concurrent failures are never lost.
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.clock import Clock
from chalicelib.config import Settings
from chalicelib.errors import TooManyAttempts
from chalicelib.store import Store
from chalicelib.store.counters import Counter, CounterKey
from chalicelib.store.table import Conflict, Read, Write


class _Rule(NamedTuple):
    kind: str
    threshold: int


Seen = list[Counter | None]  # the counters as read, in the order of `reads`


class LoginThrottle:
    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._email = _Rule("email", settings.login_email_max_failures)
        self._ip = _Rule("ip", settings.login_ip_max_failures)
        self._window = int(settings.login_failure_window.total_seconds())
        self._base = int(settings.login_lockout_base.total_seconds())
        self._max = int(settings.login_lockout_max.total_seconds())

    def reads(self, email: str, ip: str) -> list[Read]:
        """The counters to read with the credentials, in one round trip."""
        return [self._store.counters.read(key) for _, key in self._keys(email, ip)]

    def check(self, email: str, ip: str, seen: Seen) -> bool:
        """Raise TooManyAttempts while the email or the IP is locked out.

        Returns whether the email has recorded failures, so a successful login knows whether
        it has a counter to clear (and otherwise spends no write).
        """
        now = self._clock.now()
        wait = 0
        for (rule, _), counter in zip(self._keys(email, ip), seen, strict=True):
            if counter is not None and now < counter.expires_at:
                wait = max(wait, self._locked_until(rule, counter) - now)
        if wait > 0:
            raise TooManyAttempts(wait)
        return seen[0] is not None and now < seen[0].expires_at

    def record_failure(self, email: str, ip: str, seen: Seen) -> None:
        """Count a failed password against the email and the IP, in one call when nobody else
        wrote the counters since `seen` was read."""
        now = self._clock.now()
        counters = self._store.counters
        writes = []
        for (rule, key), counter in zip(self._keys(email, ip), seen, strict=True):
            live = counter if counter is not None and now < counter.expires_at else None
            writes.append(counters.replace(key, live, self._next(rule, live, now), now))
        try:
            self._store.table.commit(*writes)
        except Conflict:
            for rule, key in self._keys(email, ip):
                self._add_failure(rule, key, now)

    def clear(self, email: str) -> Write:
        """A successful login forgets the email's failures (not the IP's: one good account
        must not let an attacker reset the counter of the address they attack from)."""
        return self._store.counters.delete(("email", email))

    def _next(self, rule: _Rule, live: Counter | None, now: int) -> Counter:
        count = 1 if live is None else live.count + 1
        expires_at = now + self._window if live is None else live.expires_at
        if count >= rule.threshold:
            expires_at = max(expires_at, now + self._lockout(rule, count) + self._window)
        return Counter(count=count, last_at=now, expires_at=expires_at)

    def _add_failure(self, rule: _Rule, key: CounterKey, now: int) -> None:
        counter = self._store.counters.add(key, now, now + self._window)
        if counter.count >= rule.threshold:
            lockout = self._lockout(rule, counter.count)
            self._store.counters.keep_until(key, now + lockout + self._window)

    def _keys(self, email: str, ip: str) -> list[tuple[_Rule, CounterKey]]:
        keys = [(self._email, ("email", email))]
        if ip:
            keys.append((self._ip, ("ip", ip)))
        return keys

    def _lockout(self, rule: _Rule, failures: int) -> int:
        doublings = min(failures - rule.threshold, 32)
        return min(self._base * 2**doublings, self._max)

    def _locked_until(self, rule: _Rule, counter: Counter) -> int:
        if counter.count < rule.threshold:
            return 0
        return counter.last_at + self._lockout(rule, counter.count)
