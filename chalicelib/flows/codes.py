"""Codes sent by email: signing in (or up, with no password) with one, and re-authenticating
a signed-in user with one.

A code, not a link: Safari's isolated windows, installed web apps and other devices lose a
link's context, and mail scanners open links. The mailed link only opens a page with the code
filled in and a button that posts it; opening it uses nothing up. Codes are 8 characters of
Crockford's base32 (onetime), live 10 minutes, are stored as a digest salted with their
purpose and owner, one live code per owner and purpose, and are used up inside the transaction
that signs in: of parallel uses of one code, exactly one succeeds. Their limits, DynamoDB
counters counted for any address, account or not, are flows.mailed_codes' table.

An emailed code is one factor: a user with two-factor on still owes the second. An account
whose address a code proves for the first time (unverified until then) may have been set up
by someone else, waiting for its owner (a pre-account takeover): flows.mailbox removes what
was set up before, and every session of it ends.

A re-authentication code is bound to the session that asked for it: it proves nothing for
another session of the same user.

With SIGNUP_REVEALS_ACCOUNTS=false, a sign-up (flows.signin) stores its password's hash with
an address's sign-in code, bound to the client that chose it: that client entering the code
makes the account with that password; anyone else entering it (the mailbox's owner, who never
chose it) makes the account without one.
"""

from __future__ import annotations

import time
from typing import NamedTuple
from urllib.parse import urlencode

from chalicelib.audit import Event
from chalicelib.errors import EmailTaken, InvalidCode, InvalidRequest, NotFound, ServiceUnavailable
from chalicelib.flows import email as email_flows
from chalicelib.flows import mailed_codes
from chalicelib.flows.context import Access, RequestContext
from chalicelib.flows.mailbox import Proof, prove
from chalicelib.flows.mailed_codes import Addressee
from chalicelib.mail import Kind
from chalicelib.onetime import Purpose
from chalicelib.sessions import EMAIL_CODE
from chalicelib.users import User, normalize_email, user_of


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
    address = normalize_email(raw_email, deliverable=True)
    to = Addressee(address, address)
    mailed_codes.spend_send(ctx, Purpose.LOGIN_CODE, to)  # counted for any address
    store = ctx.services.store
    (credentials,) = store.table.read(ctx.services.users.credentials(address))
    banned = credentials is not None and user_of(credentials).banned(ctx.services.clock.now())
    # With MIGRATE_FROM_URL, an address without an account may be the old system's: the code
    # goes, and its sign-in asks there (a code makes nothing the endpoint does not vouch for).
    maybe = settings.email_code_signup or settings.migrate_from_url is not None
    if not banned and (credentials is not None or maybe):
        user_id = None if credentials is None else credentials.user_id
        code, write = mailed_codes.new(ctx, Purpose.LOGIN_CODE, to)
        store.table.commit(write)
        try:
            send_login_code(ctx, address, code, new_account=credentials is None)
        except ServiceUnavailable:
            # As for a reset: a 503 for some addresses only would tell which have accounts.
            ctx.audit(Event.MAIL_FAILED, user_id, mail=Kind.LOGIN_CODE.template)
        else:
            ctx.audit(Event.CODE_SENT, user_id, purpose=Purpose.LOGIN_CODE.value)
    ctx.services.pause(email_flows.RESET_RESPONSE_SECONDS - (time.monotonic() - started))


def send_login_code(ctx: RequestContext, address: str, code: str, *, new_account: bool) -> None:
    """The sign-in code, with a link to the page that fills it in (opening it uses nothing)."""

    def link(code: str) -> str:
        return ctx.link("/login/code?" + urlencode({"email": address, "code": code}))

    mailed_codes.send(ctx, Purpose.LOGIN_CODE, address, code, link, new_account=new_account)


def log_in_with_code(ctx: RequestContext, raw_email: str, raw_code: str) -> CodeSignIn:
    """The address's code: a session for its account (which may still owe its second factor),
    or a new account (without a password, or with the one a quiet sign-up chose). The address
    counts as verified."""
    if not ctx.services.settings.emailed_codes_sign_in:
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
    to = Addressee(address, address)
    stored, seen, credentials = store.table.read(
        *mailed_codes.reads(ctx, Purpose.LOGIN_CODE, to),
        services.users.credentials(address),
    )
    user_id = None if credentials is None else credentials.user_id
    taken = mailed_codes.take(ctx, Purpose.LOGIN_CODE, to, raw_code, stored, seen, user_id=user_id)
    if credentials is None:
        quiet = taken.stored.password_hash is not None  # a quiet sign-up's code
        # The chosen password only for the client that chose it: anyone else proves the
        # mailbox, and gets the account without a password they never chose.
        chosen = taken.stored.password_hash if ctx.began_signup(taken.stored.binding) else None
        # A user of the old system (MIGRATE_FROM_URL) keeps the profile they had there.
        migrated = ctx.migration_for(address)
        if migrated is not None:
            user, account = ctx.migrated_account(
                address, migrated, proven=True, password_hash=chosen
            )
        else:
            if not quiet and not services.settings.email_code_signup:
                raise InvalidCode()  # a code sent while sign-up was on
            # Asked again as the account is made (a quiet sign-up was asked when it began):
            # the hook's word at the moment of writing is what counts. Before the binding is
            # used up, so a refusal that a retry may lift leaves the client able to finish.
            ctx.allow_sign_up(address, "password" if quiet else "email_code")
            user, account = services.users.register_proven(address, password_hash=chosen)
        ctx.start_session(user, [*account, *taken.writes], amr=EMAIL_CODE)
        ctx.audit(Event.SIGNUP, user.id, method="code" if chosen is None else "password")
        return CodeSignIn(user, created=True)
    if credentials.email_verified:
        user = user_of(credentials)
        ctx.start_session(user, taken.writes, amr=EMAIL_CODE)
    else:
        (account,) = store.table.read(store.accounts.user(credentials.user_id))
        if account is None:
            raise InvalidCode()  # the account was deleted meanwhile
        user = prove(ctx, Proof(taken.writes, account, "code", EMAIL_CODE))
    ctx.audit(Event.LOGIN_SUCCESS, user.id, method="code")
    return CodeSignIn(user, created=False)


# -- re-authenticating ----------------------------------------------------------------------


def request_reauthentication_code(ctx: RequestContext) -> None:
    """A code to the signed-in user's address that re-authenticates this session, and no
    other."""
    session = ctx.require_owner()
    user = session.user
    to = Addressee(user.id, user.email)
    mailed_codes.issue(ctx, Purpose.REAUTHENTICATE, to, user.id, binding=session.id)


def reauthenticate(ctx: RequestContext, password: str | None, code: str | None) -> int:
    """Proof on this session, the password (checked like a login) or a mailed code asked for
    by this session; returns when the re-authentication runs out."""
    session = ctx.require(Access.ACCOUNT)
    user = session.user
    if (password is None) == (code is None):
        raise InvalidRequest("Send either 'password' or 'code'.")
    if password is not None:
        ctx.verify_password(password)
        ctx.commit()
        return ctx.reauthenticated_until()
    to = Addressee(user.id, user.email)
    stored, seen = ctx.services.store.table.read(
        *mailed_codes.reads(ctx, Purpose.REAUTHENTICATE, to)
    )
    taken = mailed_codes.take(
        ctx,
        Purpose.REAUTHENTICATE,
        to,
        str(code),
        stored,
        seen,
        user_id=user.id,
        binding=session.id,
    )
    ctx.mark_reauthenticated()
    ctx.commit(*taken.writes)
    ctx.audit(Event.REAUTHENTICATED, user.id, method="code")
    return ctx.reauthenticated_until()
