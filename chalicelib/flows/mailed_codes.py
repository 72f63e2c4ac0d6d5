"""Codes sent by email, one mechanism for every purpose: issued, checked, counted and consumed.

A code is 8 characters of Crockford's base32 (chalicelib.onetime), stored as a digest salted
with its purpose and owner, one live code per owner and purpose (a new one replaces the old).
Each purpose's lifetime and limits are one row of `RULES` (docs/accounts.md has the table):

- verify_email, change_email: the user's; 15 minutes; 3 sent per user per 10 minutes; 5 wrong
  per user per 30 minutes, both purposes together; an expired one brings a fresh one.
- login_code: the address's (account or not); 10 minutes; 3 sent per address per 10 minutes
  and 20 of any sign-in or re-authentication code per IP an hour; 5 wrong per address per 30
  minutes; an expired one is wrong.
- reauthenticate: the user's, bound to the session that asked; as login_code, its own counts.

Counting (chalicelib.limits): while the count of wrong codes has reached the limit, every code
is refused (429), the right one too. A wrong code is counted, then answered, so parallel
guesses get at most 5 answers; a right code's transaction marks the code used and clears the
count on condition that the count is still under the limit. The right code used already (a
double click, a client's retry, a copy that lost the race) is answered `400 invalid_code` and
not counted: it is no guess, and it must not lock the owner out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from chalicelib import onetime
from chalicelib.audit import Event
from chalicelib.errors import CodeExpired, InvalidCode
from chalicelib.flows.context import RequestContext
from chalicelib.limits import (
    CODE_FAILURES,
    CODE_SENDS_PER_IP,
    EMAIL_CHANGE_SENDS,
    LOGIN_CODE_FAILURES,
    LOGIN_CODE_SENDS,
    REAUTHENTICATION_CODE_FAILURES,
    REAUTHENTICATION_CODE_SENDS,
    VERIFICATION_SENDS,
    Limit,
)
from chalicelib.mail import Kind
from chalicelib.onetime import Check, Purpose
from chalicelib.store.counters import Counter
from chalicelib.store.secrets import StoredSecret
from chalicelib.store.table import Read, Write


class CodeRule(NamedTuple):
    minutes: int  # how long a code lives
    mail: Kind
    sends: Limit  # codes sent per owner (or per address, with `per_address`)
    failures: Limit  # wrong codes, counted the same way
    sends_per_ip: Limit | None
    per_address: bool  # limits count per address (sign-in), else per owner (a user id)
    resend_expired: bool  # an expired code gets a fresh one sent (a signed-in user's own)


RULES: dict[Purpose, CodeRule] = {
    Purpose.VERIFY_EMAIL: CodeRule(
        15, Kind.VERIFY_EMAIL, VERIFICATION_SENDS, CODE_FAILURES, None, False, True
    ),
    Purpose.CHANGE_EMAIL: CodeRule(
        15, Kind.EMAIL_CHANGE_CODE, EMAIL_CHANGE_SENDS, CODE_FAILURES, None, False, True
    ),
    Purpose.LOGIN_CODE: CodeRule(
        10, Kind.LOGIN_CODE, LOGIN_CODE_SENDS, LOGIN_CODE_FAILURES, CODE_SENDS_PER_IP, True, False
    ),
    Purpose.REAUTHENTICATE: CodeRule(
        10,
        Kind.REAUTHENTICATION_CODE,
        REAUTHENTICATION_CODE_SENDS,
        REAUTHENTICATION_CODE_FAILURES,
        CODE_SENDS_PER_IP,
        True,
        False,
    ),
}


class Addressee(NamedTuple):
    """Whose code it is (`owner`: a user id, or the address of a sign-in code) and where it
    goes."""

    owner: str
    address: str

    def counted_by(self, rule: CodeRule) -> str:
        return self.address if rule.per_address else self.owner


class Taken(NamedTuple):
    writes: list[Write]  # using the code up and clearing the count of wrong ones
    stored: StoredSecret  # what was stored with it (an email change's address, ...)


def reads(ctx: RequestContext, purpose: Purpose, to: Addressee) -> list[Read]:
    """The live code and the count of wrong ones, to read in the caller's round trip."""
    rule = RULES[purpose]
    return [
        ctx.services.store.secrets.read(purpose, to.owner),
        ctx.services.limits.read(rule.failures, to.counted_by(rule)),
    ]


def spend_send(ctx: RequestContext, purpose: Purpose, to: Addressee) -> None:
    """Count a send against the purpose's limits (429 once over)."""
    rule = RULES[purpose]
    limits = ctx.services.limits
    if rule.sends_per_ip is not None and ctx.ip_key:
        limits.spend(rule.sends_per_ip, ctx.ip_key)
    limits.spend(rule.sends, to.counted_by(rule))


def new(
    ctx: RequestContext, purpose: Purpose, to: Addressee, **stored: str | None
) -> tuple[str, Write]:
    """A fresh code and the write that stores it (replacing the live one); `stored` goes with
    it (new_email, binding, password_hash)."""
    code = onetime.new_code()
    return code, store_secret(ctx, purpose, to.owner, code, RULES[purpose].minutes, **stored)


def first(ctx: RequestContext, purpose: Purpose, to: Addressee) -> tuple[str, list[Write]]:
    """The first code of a new owner, and the writes that store it and count its send (for
    the new account's own transaction)."""
    rule = RULES[purpose]
    code = onetime.new_code()
    return code, [
        store_secret(ctx, purpose, to.owner, code, rule.minutes),
        ctx.services.limits.first(rule.sends, to.counted_by(rule)),
    ]


def send(
    ctx: RequestContext,
    purpose: Purpose,
    address: str,
    code: str,
    link: Callable[[str], str] | None = None,
    **context: Any,
) -> None:
    """The purpose's message with `code` (and a link that fills it in, if given)."""
    extra = {} if link is None else {"link": link(code)}
    ctx.send_mail(
        RULES[purpose].mail,
        address,
        console=f"code {code}",
        code=code,
        minutes=RULES[purpose].minutes,
        **extra,
        **context,
    )


def issue(
    ctx: RequestContext, purpose: Purpose, to: Addressee, user_id: str, **stored: str | None
) -> None:
    """A fresh code within the purpose's limits on sends, stored (with what the request owes:
    RequestContext.commit), mailed and audited (503 if the mail cannot go)."""
    spend_send(ctx, purpose, to)
    code, write = new(ctx, purpose, to, **stored)
    ctx.commit(write)
    send(ctx, purpose, to.address, code)
    ctx.audit(Event.CODE_SENT, user_id, purpose=purpose.value)


def take(
    ctx: RequestContext,
    purpose: Purpose,
    to: Addressee,
    raw_code: str,
    stored: StoredSecret | None,
    seen: Counter | None,
    *,
    user_id: str | None,
    binding: str | None = None,
) -> Taken:
    """The writes that use up the owner's live code if `raw_code` is it (and, with `binding`,
    it was asked for there). Refused (429) while the wrong codes have reached the limit; a
    wrong, foreign, expired or unknown code is counted, then answered (one answer for all of
    them, but for a signed-in user's own expired code, which brings a fresh one); the right
    code used already is answered without being counted."""
    rule = RULES[purpose]
    limits = ctx.services.limits
    limits.check(rule.failures, seen)
    now = ctx.services.clock.now()
    result = Check.WRONG
    if stored is not None and (binding is None or stored.binding == binding):
        code = onetime.normalize_code(raw_code)
        result = onetime.check(
            purpose, to.owner, code, stored.digest, stored.valid_until, now, used=stored.used
        )
    if result is Check.USED:
        raise InvalidCode()
    if stored is not None and result is Check.EXPIRED and rule.resend_expired:
        resend_to = to._replace(address=stored.new_email or to.address)
        issue(ctx, purpose, resend_to, user_id, new_email=stored.new_email)
        raise CodeExpired()
    if stored is None or result is not Check.RIGHT:
        ctx.audit(Event.CODE_FAILURE, user_id, purpose=purpose.value)
        limits.spend(rule.failures, to.counted_by(rule))  # 429 instead, once over the limit
        raise InvalidCode()
    return Taken(
        [
            ctx.services.store.secrets.consume(purpose, to.owner, stored.digest, now, InvalidCode),
            limits.clear_unless_reached(rule.failures, to.counted_by(rule), seen),
        ],
        stored,
    )


def store_secret(
    ctx: RequestContext, purpose: Purpose, owner: str, secret: str, minutes: int, **stored: Any
) -> Write:
    """The write that keeps `secret` (a code, or a link's token) as a digest for `minutes`."""
    valid_until = ctx.services.clock.now() + minutes * 60
    digest = onetime.digest(purpose, owner, secret)
    return ctx.services.store.secrets.put(
        purpose, owner, StoredSecret(digest, valid_until, **stored)
    )
