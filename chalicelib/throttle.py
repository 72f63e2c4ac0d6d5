"""Login throttling (ASVS 6.1.1, 6.3.1): failure counters per normalised email and per source
IP, kept in DynamoDB because Lambda containers share no memory.

Once a key reaches its threshold, attempts get 429 until `lockout(n)` has passed since its last
failure, where lockout(n) = base * 2^(n - threshold), capped at the maximum: each further
failure doubles the wait. Attempts refused with 429 are not verified and do not count, so a
correct password during a lockout does not get through, and waiting always helps (exponential
waits, not a hard lockout an attacker could keep an owner in forever). A counter is forgotten
one window after its last failure or the lockout that failure caused, whichever ends later.
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.clock import Clock
from chalicelib.config import Settings
from chalicelib.errors import TooManyAttempts
from chalicelib.store import Counter, DynamoStore


class _Rule(NamedTuple):
    kind: str
    threshold: int


class LoginThrottle:
    def __init__(self, store: DynamoStore, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._email = _Rule("email", settings.login_email_max_failures)
        self._ip = _Rule("ip", settings.login_ip_max_failures)
        self._window = int(settings.login_failure_window.total_seconds())
        self._base = int(settings.login_lockout_base.total_seconds())
        self._max = int(settings.login_lockout_max.total_seconds())

    def check(self, email: str, ip: str) -> bool:
        """Raise TooManyAttempts while the email or the IP is locked out.

        Returns whether the email has recorded failures, so a successful login knows whether
        it has a counter to clear (and otherwise spends no write).
        """
        keys = self._keys(email, ip)
        counters = self._store.get_counters([key for _, key in keys])
        now = self._clock.now()
        wait = 0
        for rule, key in keys:
            counter = counters.get(key)
            if counter is not None and now < counter.expires_at:
                wait = max(wait, self._locked_until(rule, counter) - now)
        if wait > 0:
            raise TooManyAttempts(wait)
        email_counter = counters.get(("email", email))
        return email_counter is not None and now < email_counter.expires_at

    def record_failure(self, email: str, ip: str) -> None:
        now = self._clock.now()
        for rule, key in self._keys(email, ip):
            failures = self._store.add_failure(key, now, now + self._window)
            if failures >= rule.threshold:
                lockout = self._lockout(rule, failures)
                self._store.keep_counter_until(key, now + lockout + self._window)

    def clear(self, email: str) -> None:
        """A successful login forgets the email's failures (not the IP's: one good account
        must not let an attacker reset the counter of the address they attack from)."""
        self._store.delete_counter(("email", email))

    def _keys(self, email: str, ip: str) -> list[tuple[_Rule, tuple[str, str]]]:
        keys = [(self._email, ("email", email))]
        if ip:
            keys.append((self._ip, ("ip", ip)))
        return keys

    def _lockout(self, rule: _Rule, failures: int) -> int:
        doublings = min(failures - rule.threshold, 32)
        return min(self._base * 2**doublings, self._max)

    def _locked_until(self, rule: _Rule, counter: Counter) -> int:
        if counter.failures < rule.threshold:
            return 0
        return counter.last_failure_at + self._lockout(rule, counter.failures)
