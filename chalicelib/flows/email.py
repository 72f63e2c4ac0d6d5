"""The email flows: verifying the address, resetting a forgotten password, changing the email.

Codes go through the one mechanism of flows.mailed_codes, reset links are tokens stored the
same way (digests only, minutes of life, used up inside the transaction that does what they
allow, so two concurrent uses cannot both succeed), and every proof of an account's address
goes through flows.mailbox. Every limit is a DynamoDB counter. Every change to the account ends
the user's other sessions and rotates the current one, so what a session knows of its user
stays true without extra reads; and the address that loses something hears of it before the
change is made.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib import onetime
from chalicelib.audit import Event
from chalicelib.errors import (
    AlreadyVerified,
    EmailTaken,
    InvalidCode,
    InvalidResetToken,
    SecondFactorMissing,
    ServiceUnavailable,
    Unauthenticated,
)
from chalicelib.flows import mailed_codes, passkeys, twofactor
from chalicelib.flows.context import Access, RequestContext
from chalicelib.flows.mailbox import Proof, prove
from chalicelib.flows.mailed_codes import Addressee
from chalicelib.limits import RESETS_PER_EMAIL, RESETS_PER_IP
from chalicelib.mail import Kind
from chalicelib.onetime import Check, Purpose
from chalicelib.passwords import check_password_policy
from chalicelib.sessions import EMAIL_CODE, ONE_TIME_CODE, PASSKEY, methods
from chalicelib.store.table import Write
from chalicelib.users import User, normalize_email, user_of, user_of_item

RESET_MINUTES = 30
# A reset request answers no sooner than this, account or not: sending the mail takes time,
# and an attacker must not learn from the clock which addresses have accounts.
RESET_RESPONSE_SECONDS = 0.75


# -- verification -------------------------------------------------------------------------


def verification_for_new_user(ctx: RequestContext, user: User) -> tuple[str, list[Write]]:
    """A first verification code and the writes that store it (with the sign-up); its send
    counts towards the limit on sends."""
    return mailed_codes.first(ctx, Purpose.VERIFY_EMAIL, Addressee(user.id, user.email))


def send_verification(ctx: RequestContext, user: User, code: str) -> None:
    mailed_codes.send(ctx, Purpose.VERIFY_EMAIL, user.email, code)
    ctx.audit(Event.EMAIL_VERIFICATION_SENT, user.id)


def resend_verification(ctx: RequestContext) -> None:
    user = ctx.require(Access.ACCOUNT).user
    if user.email_verified:
        raise AlreadyVerified()
    mailed_codes.issue(ctx, Purpose.VERIFY_EMAIL, Addressee(user.id, user.email), user.id)


def verify_email(ctx: RequestContext, raw_code: str) -> User:
    """The code from the verification mail, shown by the account's own session: the email is
    verified, every other session ends and this one rotates."""
    current = ctx.require(Access.ACCOUNT)
    user = current.user
    if user.email_verified:
        return user  # nothing left to do; a second click on the button is not an error
    to = Addressee(user.id, user.email)
    store = ctx.services.store
    stored, seen, account = store.table.read(
        *mailed_codes.reads(ctx, Purpose.VERIFY_EMAIL, to), store.accounts.user(user.id)
    )
    taken = mailed_codes.take(
        ctx, Purpose.VERIFY_EMAIL, to, raw_code, stored, seen, user_id=user.id
    )
    if account is None:
        raise Unauthenticated()  # the account was deleted meanwhile
    return prove(ctx, Proof(taken.writes, account, "verification", holder=current))


# -- password reset ------------------------------------------------------------------------


def request_password_reset(ctx: RequestContext, raw_email: str) -> None:
    """Mail a reset link if the address has an account; the same answer, and about the same
    time, either way."""
    started = time.monotonic()
    email = normalize_email(raw_email)
    limits = ctx.services.limits
    if ctx.ip_key:
        limits.spend(RESETS_PER_IP, ctx.ip_key)
    limits.spend(RESETS_PER_EMAIL, email)  # counted whether or not an account exists
    (credentials,) = ctx.services.store.table.read(ctx.services.users.credentials(email))
    if credentials is not None and user_of(credentials).banned(ctx.services.clock.now()):
        credentials = None  # a banned account gets nothing: the same answer as no account
    if credentials is not None:
        token = onetime.new_token(credentials.user_id)
        ctx.services.store.table.commit(
            mailed_codes.store_secret(
                ctx, Purpose.RESET_PASSWORD, credentials.user_id, token.secret, RESET_MINUTES
            )
        )
        link = ctx.link(f"/reset-password?token={token.text}")
        try:
            ctx.send_mail(
                Kind.PASSWORD_RESET, email, console=link, link=link, minutes=RESET_MINUTES
            )
        except ServiceUnavailable:
            # A 503 here, and only here, would tell who has an account while mail is down:
            # the answer stays 202, the operators learn it from the audit log.
            ctx.audit(Event.MAIL_FAILED, credentials.user_id, mail=Kind.PASSWORD_RESET.template)
    ctx.audit(Event.PASSWORD_RESET_REQUESTED, None if credentials is None else credentials.user_id)
    ctx.services.pause(RESET_RESPONSE_SECONDS - (time.monotonic() - started))


def reset_password(
    ctx: RequestContext,
    raw_token: str,
    new_password: str,
    code: str | None = None,
    credential: Any = None,
) -> User:
    """The link's token and a new password: every session ends, this client is signed in.

    For a verified account with two-factor on, its second factor too, a code or a passkey's
    assertion (`credential`): a stolen inbox alone is not enough (ASVS 6.4.3). For an
    unverified account, the link is the first proof of its address (flows.mailbox): what was
    set up before it goes, and no second factor set up before it is asked for."""
    parsed = onetime.parse_token(raw_token)
    if parsed is None:
        raise InvalidResetToken()
    check_password_policy(new_password)  # a weak password does not use up the link
    services = ctx.services
    store = services.store
    stored, account, attempts = store.table.read(
        store.secrets.read(Purpose.RESET_PASSWORD, parsed.user_id),
        store.accounts.user(parsed.user_id),
        twofactor.attempts_read(ctx, parsed.user_id),
    )
    now = services.clock.now()
    if (
        account is None
        or stored is None
        or onetime.check(
            Purpose.RESET_PASSWORD,
            parsed.user_id,
            parsed.secret,
            stored.digest,
            stored.valid_until,
            now,
            used=stored.used,
        )
        is not Check.RIGHT
    ):
        raise InvalidResetToken()
    new_hash = services.users.new_password_hash(new_password)
    consume = store.secrets.consume(
        Purpose.RESET_PASSWORD, account.user_id, stored.digest, now, InvalidResetToken
    )
    # Earlier failed logins no longer lock them out.
    forget_failures = services.throttle.clear_account(account.email)
    if not account.email_verified:
        ctx.send_mail(Kind.PASSWORD_CHANGED, account.email)
        proof = Proof(
            [consume, forget_failures],
            account,
            "reset",
            amr=EMAIL_CODE,
            password_hash=new_hash,
            gone=InvalidResetToken,
        )
        user = prove(ctx, proof)
        ctx.audit(Event.PASSWORD_RESET, user.id)
        return user
    user = user_of_item(account)._replace(has_password=True)
    # The account deleted or its email changed since the token was read: the link is as good
    # as used, not a reason to tell a signed-out visitor to sign in.
    claim = store.accounts.update_claim(user.id, user.email, password_hash=new_hash)._replace(
        on_condition_failed=InvalidResetToken
    )
    has_password = store.accounts.update_user(user.id, has_password=True)._replace(
        on_condition_failed=InvalidResetToken
    )
    if account.two_factor and credential is not None:
        used = passkeys.prove_for_reset(ctx, credential, user.id)
        second_factor = [used, has_password]
        second = PASSKEY
    elif account.two_factor:
        if not code:
            raise SecondFactorMissing()  # the link stays usable
        second_factor = twofactor.prove_for_reset(ctx, account, attempts, code)
        second = ONE_TIME_CODE
    else:
        second_factor = [has_password]
        second = ()
    ctx.send_mail(Kind.PASSWORD_CHANGED, user.email)
    ctx.rotate_sessions(
        user,
        [
            consume,
            *second_factor,
            claim,
            store.secrets.discard(Purpose.VERIFY_EMAIL, user.id),
            forget_failures,
        ],
        two_factor_verified=account.two_factor,
        # A sign-in: the link proved the mailbox, and a second factor was given with it.
        amr=methods(EMAIL_CODE, second),
    )
    ctx.audit(Event.PASSWORD_RESET, user.id)
    return user


def discard_reset(ctx: RequestContext, user_id: str) -> list[Write]:
    """A password change makes an outstanding reset link useless."""
    return [ctx.services.store.secrets.discard(Purpose.RESET_PASSWORD, user_id)]


def discard_all(ctx: RequestContext, user: User) -> list[Write]:
    """Every one-time secret of the user: those kept by id, and a sign-in code kept by their
    address."""
    store = ctx.services.store
    return [
        *(store.secrets.discard(purpose, user.id) for purpose in sorted(onetime.BY_USER)),
        store.secrets.discard(Purpose.LOGIN_CODE, user.email),
    ]


# -- email change -------------------------------------------------------------------------


def request_email_change(ctx: RequestContext, raw_new_email: str, password: str | None) -> None:
    """A code to the new address, a notice to the current one; nothing changes until the
    code comes back."""
    user = ctx.require(Access.ACCOUNT).user
    new_email = normalize_email(raw_new_email, deliverable=True)
    if new_email == user.email:
        raise EmailTaken("This is already your email address.")
    check = ctx.reauthenticate(password, extra=[ctx.services.users.credentials(new_email)])
    (taken,) = check.extra
    if taken is not None:
        raise EmailTaken()
    to = Addressee(user.id, new_email)
    mailed_codes.issue(ctx, Purpose.CHANGE_EMAIL, to, user.id, new_email=new_email)
    ctx.send_mail(Kind.EMAIL_CHANGE_REQUESTED, user.email, new_email=new_email)


def confirm_email_change(ctx: RequestContext, raw_code: str) -> User:
    """The code from the new address: the account moves to it atomically (a sign-up that
    claimed it meanwhile wins: 409), the old address is told, every other session ends."""
    current = ctx.require(Access.ACCOUNT)
    user = current.user
    services = ctx.services
    to = Addressee(user.id, user.email)
    credentials, stored, seen = services.store.table.read(
        services.users.credentials(user.email),
        *mailed_codes.reads(ctx, Purpose.CHANGE_EMAIL, to),
    )
    if credentials is None or credentials.user_id != user.id:
        raise Unauthenticated()  # the account is gone, or no longer has this address
    taken = mailed_codes.take(
        ctx, Purpose.CHANGE_EMAIL, to, raw_code, stored, seen, user_id=user.id
    )
    new_email = taken.stored.new_email
    if new_email is None:
        raise InvalidCode()  # never: change codes are stored with their address
    changed = user._replace(email=new_email, email_verified=True)
    ctx.send_mail(Kind.EMAIL_CHANGED, user.email, new_email=new_email)
    ctx.rotate_sessions(
        changed,
        [
            *taken.writes,
            *services.store.accounts.move_claim(credentials, new_email),
            *discard_reset(ctx, user.id),
            services.store.secrets.discard(Purpose.VERIFY_EMAIL, user.id),
        ],
        two_factor_verified=current.two_factor_verified,
    )
    ctx.audit(Event.EMAIL_CHANGED, user.id)
    return changed


def pending_email_change(ctx: RequestContext) -> str | None:
    """The address a live email-change code would confirm, if any."""
    user = ctx.require(Access.ACCOUNT).user
    store = ctx.services.store
    (stored,) = store.table.read(store.secrets.read(Purpose.CHANGE_EMAIL, user.id))
    if stored is None or stored.used or stored.valid_until <= ctx.services.clock.now():
        return None
    return stored.new_email
