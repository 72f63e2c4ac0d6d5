"""Codes sent by email: signing in (or up, with no password) with one, and re-authenticating
a signed-in user with one.

A code, not a link: Safari's isolated windows, installed web apps and other devices lose a
link's context, and mail scanners open links. The mailed link only opens a page with the code
filled in and a button that posts it; opening it uses nothing up. Codes are 8 characters of
Crockford's base32 (onetime), live 10 minutes, are stored as a digest salted with their
purpose and owner, one live code per owner and purpose (a new one replaces the old), and are
consumed by a conditional delete inside the transaction that signs in: of parallel uses of one
code, exactly one succeeds.

Limits, DynamoDB counters counted for any address, account or not, each purpose (sign-in,
re-authentication) its own: 3 codes per address per 10 minutes (and 20 of either per IP per
hour); 5 wrong codes per address per 30 minutes, after which every code, the right one too,
answers 429 until the window passes. A wrong code is counted before
its answer is given, so parallel guesses get at most 5 answers; a right code's transaction
clears the count on condition that the count is still under the limit.

An emailed code is one factor: a user with two-factor on still owes the second. An account
whose address a code proves for the first time (unverified until then) may have been set up
by someone else, waiting for its owner (a pre-account takeover): its password, authenticator
app, recovery codes and passkeys go, and every session of it ends.
"""

from __future__ import annotations

import time
from typing import NamedTuple
from urllib.parse import urlencode

from chalicelib import onetime
from chalicelib.audit import Event
from chalicelib.errors import EmailTaken, InvalidCode, InvalidRequest, NotFound, ServiceUnavailable
from chalicelib.flows import email as email_flows
from chalicelib.flows.context import Access, RequestContext
from chalicelib.limits import (
    CODE_SENDS_PER_IP,
    LOGIN_CODE_FAILURES,
    LOGIN_CODE_SENDS,
    REAUTHENTICATION_CODE_FAILURES,
    REAUTHENTICATION_CODE_SENDS,
    Limit,
)
from chalicelib.mail import Kind
from chalicelib.onetime import Check, Purpose
from chalicelib.sessions import EMAIL_CODE
from chalicelib.store.accounts import Credentials
from chalicelib.store.counters import Counter
from chalicelib.store.secrets import StoredSecret
from chalicelib.store.table import Write
from chalicelib.users import User, normalize_email, user_of

CODE_MINUTES = 10
# Each purpose's limits: (sends, wrong codes), both per address.
_LIMITS: dict[Purpose, tuple[Limit, Limit]] = {
    Purpose.LOGIN_CODE: (LOGIN_CODE_SENDS, LOGIN_CODE_FAILURES),
    Purpose.REAUTHENTICATE: (REAUTHENTICATION_CODE_SENDS, REAUTHENTICATION_CODE_FAILURES),
}


class CodeSignIn(NamedTuple):
    user: User
    created: bool  # the code made the account


# -- signing in -----------------------------------------------------------------------------


def request_login_code(ctx: RequestContext, raw_email: str) -> None:
    """A sign-in code to the address if it has an account, or one that creates the account if
    sign-up by code is on; the same answer, and no sooner than a reset request's, either way."""
    settings = ctx.services.settings
    if not settings.email_code_login:
        raise NotFound()
    started = time.monotonic()
    address = normalize_email(raw_email)
    _spend_send(ctx, Purpose.LOGIN_CODE, address)
    store = ctx.services.store
    (credentials,) = store.table.read(ctx.services.accounts.credentials(address))
    if credentials is not None or settings.email_code_signup:
        user_id = None if credentials is None else credentials.user_id
        code = onetime.new_code()
        store.table.commit(_store_code(ctx, Purpose.LOGIN_CODE, address, code))
        link = ctx.link("/login/code?" + urlencode({"email": address, "code": code}))
        try:
            ctx.send_mail(
                Kind.LOGIN_CODE,
                address,
                console=f"code {code}",
                code=code,
                link=link,
                minutes=CODE_MINUTES,
                new_account=credentials is None,
            )
        except ServiceUnavailable:
            # As for a reset: a 503 for some addresses only would tell which have accounts.
            ctx.audit(Event.MAIL_FAILED, user_id, mail=Kind.LOGIN_CODE.template)
        else:
            ctx.audit(Event.CODE_SENT, user_id, purpose=Purpose.LOGIN_CODE.value)
    ctx.services.pause(email_flows.RESET_RESPONSE_SECONDS - (time.monotonic() - started))


def log_in_with_code(ctx: RequestContext, raw_email: str, raw_code: str) -> CodeSignIn:
    """The address's code: a session for its account (which may still owe its second factor),
    or a new account without a password. The address counts as verified."""
    if not ctx.services.settings.email_code_login:
        raise NotFound()
    address = normalize_email(raw_email)
    try:
        return _log_in_with_code(ctx, address, raw_code)
    except EmailTaken:
        # A sign-up took the address between our read and our write: the code, still unused,
        # now signs in to that account.
        return _log_in_with_code(ctx, address, raw_code)


def _log_in_with_code(ctx: RequestContext, address: str, raw_code: str) -> CodeSignIn:
    services = ctx.services
    store = services.store
    stored, credentials, seen = store.table.read(
        store.secrets.read(Purpose.LOGIN_CODE, address),
        services.accounts.credentials(address),
        services.limits.read(LOGIN_CODE_FAILURES, address),
    )
    user_id = None if credentials is None else credentials.user_id
    used = _take(ctx, Purpose.LOGIN_CODE, address, address, raw_code, stored, seen, user_id)
    if credentials is None:
        if not services.settings.email_code_signup:
            raise InvalidCode()  # a code sent while sign-up was on
        user, account = services.accounts.register_without_password(address)
        ctx.start_session(user, [*account, *used], amr=EMAIL_CODE)
        ctx.audit(Event.SIGNUP, user.id, method="code")
        return CodeSignIn(user, created=True)
    if credentials.email_verified:
        user = user_of(credentials)
        ctx.start_session(user, used, amr=EMAIL_CODE)
    else:
        user = _claim_unproven(ctx, credentials, used)
    ctx.audit(Event.LOGIN_SUCCESS, user.id, method="code")
    return CodeSignIn(user, created=False)


def _claim_unproven(ctx: RequestContext, credentials: Credentials, used: list[Write]) -> User:
    """The first proof of an unverified account's address: what was set up before it goes, and
    every session of it ends; this client gets the one session of the account, verified."""
    store = ctx.services.store
    (owner,) = store.table.read(store.passkeys.owner(credentials.user_id))
    if owner is None:
        raise InvalidCode()  # the account was deleted meanwhile
    user = User(credentials.user_id, credentials.email, email_verified=True, has_password=False)
    ctx.rotate_sessions(
        user,
        [
            *used,
            *store.accounts.forget_unproven(credentials),
            *store.passkeys.forget(owner),
            *store.identities.forget(owner.user_id, owner.identities),
            *email_flows.discard_user_secrets(ctx, user.id),
        ],
        two_factor_verified=False,
        amr=EMAIL_CODE,
    )
    removed = {
        "password": int(credentials.password_hash is not None),
        "totp": int(owner.totp),
        "passkeys": len(owner.passkeys),
        "identities": len(owner.identities),
    }
    if any(removed.values()):
        ctx.audit(Event.UNPROVEN_CREDENTIALS_REMOVED, user.id, **removed)
    ctx.audit(Event.EMAIL_VERIFIED, user.id, method="code")
    return user


# -- re-authenticating ----------------------------------------------------------------------


def request_reauthentication_code(ctx: RequestContext) -> None:
    """A code to the signed-in user's address that re-authenticates this session."""
    user = ctx.require(Access.ACCOUNT).user
    _spend_send(ctx, Purpose.REAUTHENTICATE, user.email)
    code = onetime.new_code()
    ctx.services.store.table.commit(_store_code(ctx, Purpose.REAUTHENTICATE, user.id, code))
    ctx.send_mail(
        Kind.REAUTHENTICATION_CODE,
        user.email,
        console=f"code {code}",
        code=code,
        minutes=CODE_MINUTES,
    )
    ctx.audit(Event.CODE_SENT, user.id, purpose=Purpose.REAUTHENTICATE.value)


def reauthenticate(ctx: RequestContext, password: str | None, code: str | None) -> int:
    """Proof on this session, the password (checked like a login) or a mailed code (counted
    like a sign-in code); returns when the re-authentication runs out."""
    user = ctx.require(Access.ACCOUNT).user
    if (password is None) == (code is None):
        raise InvalidRequest("Send either 'password' or 'code'.")
    if password is not None:
        check = ctx.verify_password(password)
        ctx.commit(*check.writes, *([check.rehash] if check.rehash else []))
        return ctx.reauthenticated_until()
    store = ctx.services.store
    stored, seen = store.table.read(
        store.secrets.read(Purpose.REAUTHENTICATE, user.id),
        ctx.services.limits.read(REAUTHENTICATION_CODE_FAILURES, user.email),
    )
    used = _take(ctx, Purpose.REAUTHENTICATE, user.id, user.email, str(code), stored, seen, user.id)
    ctx.mark_reauthenticated()
    ctx.commit(*used)
    ctx.audit(Event.REAUTHENTICATED, user.id, method="code")
    return ctx.reauthenticated_until()


# -- internals ------------------------------------------------------------------------------


def _spend_send(ctx: RequestContext, purpose: Purpose, address: str) -> None:
    limits = ctx.services.limits
    if ctx.ip:
        limits.spend(CODE_SENDS_PER_IP, ctx.ip)
    limits.spend(_LIMITS[purpose][0], address)


def _store_code(ctx: RequestContext, purpose: Purpose, owner: str, code: str) -> Write:
    valid_until = ctx.services.clock.now() + CODE_MINUTES * 60
    digest = onetime.digest(purpose, owner, code)
    return ctx.services.store.secrets.put(purpose, owner, digest, valid_until)


def _take(
    ctx: RequestContext,
    purpose: Purpose,
    owner: str,
    address: str,
    raw_code: str,
    stored: StoredSecret | None,
    seen: Counter | None,
    user_id: str | None,
) -> list[Write]:
    """The writes that consume `owner`'s live code for `purpose` if `raw_code` is it, and clear
    the address's count of wrong codes. Refused (429) while that count is at the limit; a wrong,
    used, expired or unknown code is counted, then answered: one answer for all of them."""
    limits = ctx.services.limits
    failures = _LIMITS[purpose][1]
    limits.check(failures, seen)
    now = ctx.services.clock.now()
    result = Check.WRONG
    if stored is not None:
        code = onetime.normalize_code(raw_code)
        result = onetime.check(purpose, owner, code, stored.digest, stored.valid_until, now)
    if stored is None or result is not Check.RIGHT:
        ctx.audit(Event.CODE_FAILURE, user_id, purpose=purpose.value)
        limits.spend(failures, address)  # 429 instead, once over the limit
        raise InvalidCode()
    return [
        ctx.services.store.secrets.consume(purpose, owner, stored.digest, now, InvalidCode),
        limits.clear_unless_reached(failures, address, seen),
    ]
