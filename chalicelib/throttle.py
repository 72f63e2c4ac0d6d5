"""Login throttling (ASVS 6.1.1, 6.3.1): failure counters per normalised email and per source
IP, kept in DynamoDB because Lambda containers share no memory.

Once a key reaches its threshold, attempts get 429 until `lockout(n)` has passed since its last
failure, where lockout(n) = base * 2^(n - threshold), capped at the maximum: each further
failure doubles the wait. Attempts refused with 429 are not verified and do not count, so a
correct password during a lockout does not get through, and waiting always helps (exponential
waits, not a hard lockout an attacker could keep an owner in forever). A counter is forgotten
one window after its first failure, or one window after the lockout its last failure caused,
whichever ends later.

A lockout per account is also a lever against its owner: about one wrong password per lockout
period, from anywhere, would keep them out. So, after OWASP's device cookies, a browser that
gave this account's right password before holds a device cookie (its digest kept in the email
claim's `devices`, store.accounts), and its attempts are counted per device instead of per
account: an attacker's failures lock neither it nor the account's other ways in (codes,
passkeys, providers have counts of their own). Its failures still lock the device itself, after
as many as an account's, and count per IP.

A password check reads the counters in the same round trip as the credentials and the device
(`reads`), and a failure records its counters in one call, conditional on what was read; only
when another request wrote one of them meanwhile does it fall back to atomic per-counter
increments, so concurrent failures are never lost.
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


class Attempt(NamedTuple):
    """A password attempt: the account's login key, the client's limit key (client_ip), and
    the digest of the device cookie it sent, if any."""

    email: str
    ip: str
    device: str | None = None


class LoginThrottle:
    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._email = _Rule("email", settings.login_email_max_failures)
        self._device = _Rule("device", settings.login_email_max_failures)
        self._ip = _Rule("ip", settings.login_ip_max_failures)
        self._window = int(settings.login_failure_window.total_seconds())
        self._base = int(settings.login_lockout_base.total_seconds())
        self._max = int(settings.login_lockout_max.total_seconds())

    def reads(self, attempt: Attempt) -> list[Read]:
        """Every counter the attempt may be counted under, to read with the credentials in one
        round trip: the account's, the IP's, and the device's."""
        return [self._store.counters.read(key) for _, key in self._all_keys(attempt)]

    def check(self, attempt: Attempt, seen: Seen, *, trusted: bool) -> bool:
        """Raise TooManyAttempts while the account (the device, for a `trusted` one) or the IP
        is locked out.

        Returns whether the account (or device) has recorded failures, so a success knows
        whether it has a counter to clear (and otherwise spends no write).
        """
        now = self._clock.now()
        wait = 0
        counted = self._counted(attempt, seen, trusted)
        for rule, _, counter in counted:
            if counter is not None and now < counter.expires_at:
                wait = max(wait, self._locked_until(rule, counter) - now)
        if wait > 0:
            raise TooManyAttempts(wait)
        first = counted[0][2]
        return first is not None and now < first.expires_at

    def record_failure(self, attempt: Attempt, seen: Seen, *, trusted: bool) -> None:
        """Count a failed password against the account (or the device) and the IP, in one call
        when nobody else wrote the counters since `seen` was read."""
        now = self._clock.now()
        counters = self._store.counters
        counted = self._counted(attempt, seen, trusted)
        writes = []
        for rule, key, counter in counted:
            live = counter if counter is not None and now < counter.expires_at else None
            writes.append(counters.replace(key, live, self._next(rule, live, now), now))
        try:
            self._store.table.commit(*writes)
        except Conflict:
            for rule, key, _ in counted:
                self._add_failure(rule, key, now)

    def clear(self, attempt: Attempt, *, trusted: bool) -> Write:
        """A right password forgets the account's failures, or a trusted device's own (never
        the IP's: one good account must not let an attacker reset the counter of the address
        they attack from; nor the account's from a device: the attacker's lockout stands)."""
        if trusted and attempt.device:
            return self._store.counters.delete(("device", attempt.device))
        return self._store.counters.delete(("email", attempt.email))

    def clear_account(self, email: str) -> Write:
        """The account's failures forgotten (a reset: its owner proved the mailbox)."""
        return self._store.counters.delete(("email", email))

    def _all_keys(self, attempt: Attempt) -> list[tuple[_Rule, CounterKey]]:
        keys = [(self._email, ("email", attempt.email))]
        if attempt.ip:
            keys.append((self._ip, ("ip", attempt.ip)))
        if attempt.device:
            keys.append((self._device, ("device", attempt.device)))
        return keys

    def _counted(
        self, attempt: Attempt, seen: Seen, trusted: bool
    ) -> list[tuple[_Rule, CounterKey, Counter | None]]:
        """The counters this attempt answers to, first the account's (a trusted device's
        instead), then the IP's, each with what was read of it."""
        read = list(zip(self._all_keys(attempt), seen, strict=True))
        by_kind = {rule.kind: (rule, key, counter) for (rule, key), counter in read}
        first = by_kind["device" if trusted and attempt.device else "email"]
        return [first, *([by_kind["ip"]] if "ip" in by_kind else [])]

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

    def _lockout(self, rule: _Rule, failures: int) -> int:
        doublings = min(failures - rule.threshold, 32)
        return min(self._base * 2**doublings, self._max)

    def _locked_until(self, rule: _Rule, counter: Counter) -> int:
        if counter.count < rule.threshold:
            return 0
        return counter.last_at + self._lockout(rule, counter.count)
