"""The email flows: verifying the address, resetting a forgotten password, changing the email.

Every code and token is stored as a digest only, lives minutes, and is consumed inside the
transaction that does what it allows (so two concurrent uses cannot both succeed). Every limit
is a DynamoDB counter. Every change to the account ends the user's other sessions and rotates
the current one, so what a session knows of its user stays true without extra reads; and the
address that loses something hears of it before the change is made.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from chalicelib import onetime
from chalicelib.audit import Event
from chalicelib.errors import (
    AlreadyVerified,
    CodeExpired,
    EmailTaken,
    InvalidCode,
    InvalidToken,
    SecondFactorMissing,
    ServiceUnavailable,
    Unauthenticated,
)
from chalicelib.flows import passkeys, twofactor
from chalicelib.flows.context import Access, RequestContext
from chalicelib.limits import (
    CODE_FAILURES,
    EMAIL_CHANGE_SENDS,
    RESETS_PER_EMAIL,
    RESETS_PER_IP,
    TWO_FACTOR_ATTEMPTS,
    VERIFICATION_SENDS,
    Limit,
)
from chalicelib.mail import Kind
from chalicelib.onetime import BY_USER, Check, Purpose
from chalicelib.passwords import check_password_policy
from chalicelib.sessions import EMAIL_CODE, ONE_TIME_CODE, PASSKEY, methods
from chalicelib.store.table import Write
from chalicelib.users import User, normalize_email

CODE_MINUTES = 15
RESET_MINUTES = 30
# A reset request answers no sooner than this, account or not: sending the mail takes time,
# and an attacker must not learn from the clock which addresses have accounts.
RESET_RESPONSE_SECONDS = 0.75


# -- verification -------------------------------------------------------------------------


def verification_for_new_user(ctx: RequestContext, user: User) -> tuple[str, list[Write]]:
    """A first verification code and the writes that store it (with the sign-up); its send
    counts towards the limit on sends."""
    code = onetime.new_code()
    writes = [
        _store_secret(ctx, Purpose.VERIFY_EMAIL, user.id, code, CODE_MINUTES),
        ctx.services.limits.first(VERIFICATION_SENDS, user.id),
    ]
    return code, writes


def send_verification(ctx: RequestContext, user: User, code: str) -> None:
    ctx.send_mail(
        Kind.VERIFY_EMAIL, user.email, console=f"code {code}", code=code, minutes=CODE_MINUTES
    )
    ctx.audit(Event.EMAIL_VERIFICATION_SENT, user.id)


def resend_verification(ctx: RequestContext) -> None:
    user = ctx.require(Access.ACCOUNT).user
    if user.email_verified:
        raise AlreadyVerified()
    _send_code(ctx, Purpose.VERIFY_EMAIL, user, user.email)


def verify_email(ctx: RequestContext, raw_code: str) -> User:
    """The code from the verification mail: the email is verified, every other session ends
    and this one rotates."""
    current = ctx.require(Access.ACCOUNT)
    user = current.user
    if user.email_verified:
        return user  # nothing left to do; a second click on the button is not an error
    taken = _take_code(ctx, Purpose.VERIFY_EMAIL, user, raw_code)
    verified = user._replace(email_verified=True)
    accounts = ctx.services.store.accounts
    ctx.rotate_sessions(
        verified,
        [*taken.writes, *accounts.set_flags(user.id, user.email, email_verified=True)],
        two_factor_verified=current.two_factor_verified,
    )
    ctx.audit(Event.EMAIL_VERIFIED, user.id)
    return verified


# -- password reset ------------------------------------------------------------------------


def request_password_reset(ctx: RequestContext, raw_email: str) -> None:
    """Mail a reset link if the address has an account; the same answer, and about the same
    time, either way."""
    started = time.monotonic()
    email = normalize_email(raw_email)
    limits = ctx.services.limits
    if ctx.ip:
        limits.spend(RESETS_PER_IP, ctx.ip)
    limits.spend(RESETS_PER_EMAIL, email)  # counted whether or not an account exists
    (credentials,) = ctx.services.store.table.read(ctx.services.accounts.credentials(email))
    if credentials is not None:
        token = onetime.new_token(credentials.user_id)
        ctx.services.store.table.commit(
            _store_secret(
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
    """The link's token and a new password: every session ends, this client is signed in,
    and the email counts as verified (the user proved they read it). An account with two-factor
    on also needs its second factor, a code or a passkey's assertion (`credential`): a stolen
    inbox alone is not enough."""
    parsed = onetime.parse_token(raw_token)
    if parsed is None:
        raise InvalidToken()
    check_password_policy(new_password)  # a weak password does not use up the link
    services = ctx.services
    store = services.store
    stored, state, attempts = store.table.read(
        store.secrets.read(Purpose.RESET_PASSWORD, parsed.user_id),
        store.twofactor.read(parsed.user_id),
        twofactor.attempts_read(ctx, parsed.user_id),
    )
    now = services.clock.now()
    if (
        state is None
        or stored is None
        or onetime.check(
            Purpose.RESET_PASSWORD,
            parsed.user_id,
            parsed.secret,
            stored.digest,
            stored.valid_until,
            now,
        )
        is not Check.RIGHT
    ):
        raise InvalidToken()
    user = User(state.user_id, state.email, True, state.two_factor)
    new_hash = services.accounts.new_password_hash(new_password)
    # The account deleted or its email changed since the token was read: the link is as good
    # as used, not a reason to tell a signed-out visitor to sign in.
    claim = store.accounts.update_claim(
        user.id, user.email, password_hash=new_hash, email_verified=True
    )._replace(on_condition_failed=InvalidToken)
    if state.two_factor and credential is not None:
        used = passkeys.prove_for_reset(ctx, credential, user.id)
        user_item = store.accounts.update_user(user.id, email_verified=True, has_password=True)
        account = [used, user_item._replace(on_condition_failed=InvalidToken), claim]
        second = PASSKEY
    elif state.two_factor:
        if not code:
            raise SecondFactorMissing()  # the link stays usable
        proof = twofactor.prove_for_reset(ctx, state, attempts, code)
        account = [
            store.twofactor.use(user.id, proof, reset=True),
            claim,
            services.limits.clear(TWO_FACTOR_ATTEMPTS, user.id),
        ]
        second = ONE_TIME_CODE
    else:
        user_item = store.accounts.update_user(user.id, email_verified=True, has_password=True)
        account = [user_item._replace(on_condition_failed=InvalidToken), claim]
        second = ()
    ctx.send_mail(Kind.PASSWORD_CHANGED, user.email)
    ctx.rotate_sessions(
        user,
        [
            store.secrets.consume(
                Purpose.RESET_PASSWORD, user.id, stored.digest, now, InvalidToken
            ),
            *account,
            store.secrets.discard(Purpose.VERIFY_EMAIL, user.id),
            services.throttle.clear(user.email),  # earlier failed logins no longer lock them out
        ],
        two_factor_verified=state.two_factor,
        # A sign-in: the link proved the mailbox, and a second factor was given with it.
        amr=methods(EMAIL_CODE, second),
    )
    ctx.audit(Event.PASSWORD_RESET, user.id)
    return user


def discard_reset(ctx: RequestContext, user_id: str) -> list[Write]:
    """A password change makes an outstanding reset link useless."""
    return [ctx.services.store.secrets.discard(Purpose.RESET_PASSWORD, user_id)]


def discard_user_secrets(ctx: RequestContext, user_id: str) -> list[Write]:
    """Every one-time secret kept by the user's id."""
    return [ctx.services.store.secrets.discard(purpose, user_id) for purpose in sorted(BY_USER)]


def discard_all(ctx: RequestContext, user: User) -> list[Write]:
    """Every one-time secret of the user: those kept by id, and a sign-in code kept by their
    address."""
    return [
        *discard_user_secrets(ctx, user.id),
        ctx.services.store.secrets.discard(Purpose.LOGIN_CODE, user.email),
    ]


# -- email change -------------------------------------------------------------------------


def request_email_change(ctx: RequestContext, raw_new_email: str, password: str | None) -> None:
    """A code to the new address, a notice to the current one; nothing changes until the
    code comes back."""
    user = ctx.require(Access.ACCOUNT).user
    new_email = normalize_email(raw_new_email)
    if new_email == user.email:
        raise EmailTaken("This is already your email address.")
    check = ctx.reauthenticate(password, extra=[ctx.services.accounts.credentials(new_email)])
    (taken,) = check.extra
    if taken is not None:
        raise EmailTaken()
    ctx.commit(*check.writes, *([check.rehash] if check.rehash else []))
    _send_code(ctx, Purpose.CHANGE_EMAIL, user, new_email, new_email=new_email)
    ctx.send_mail(Kind.EMAIL_CHANGE_REQUESTED, user.email, new_email=new_email)


def confirm_email_change(ctx: RequestContext, raw_code: str) -> User:
    """The code from the new address: the account moves to it atomically (a sign-up that
    claimed it meanwhile wins: 409), the old address is told, every other session ends."""
    current = ctx.require(Access.ACCOUNT)
    user = current.user
    services = ctx.services
    (credentials,) = services.store.table.read(services.accounts.credentials(user.email))
    if credentials is None or credentials.user_id != user.id:
        raise Unauthenticated()  # the account is gone, or no longer has this address
    taken = _take_code(ctx, Purpose.CHANGE_EMAIL, user, raw_code)
    new_email = taken.new_email
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
    if stored is None or stored.valid_until <= ctx.services.clock.now():
        return None
    return stored.new_email


# -- codes ---------------------------------------------------------------------------------

_SENDS: dict[Purpose, tuple[Limit, Kind]] = {
    Purpose.VERIFY_EMAIL: (VERIFICATION_SENDS, Kind.VERIFY_EMAIL),
    Purpose.CHANGE_EMAIL: (EMAIL_CHANGE_SENDS, Kind.EMAIL_CHANGE_CODE),
}


def _send_code(
    ctx: RequestContext, purpose: Purpose, user: User, to: str, new_email: str | None = None
) -> None:
    """A fresh code (replacing any live one) to `to`, within the limit on sends."""
    limit, kind = _SENDS[purpose]
    ctx.services.limits.spend(limit, user.id)
    code = onetime.new_code()
    ctx.services.store.table.commit(
        _store_secret(ctx, purpose, user.id, code, CODE_MINUTES, new_email=new_email)
    )
    ctx.send_mail(kind, to, console=f"code {code}", code=code, minutes=CODE_MINUTES)
    ctx.audit(Event.CODE_SENT, user.id, purpose=purpose.value)


class TakenCode(NamedTuple):
    writes: list[Write]  # consuming the code and clearing the count of wrong ones
    new_email: str | None  # for an email change: the address the code confirms


def _take_code(ctx: RequestContext, purpose: Purpose, user: User, raw_code: str) -> TakenCode:
    """The writes that consume the user's live code for `purpose`, if `raw_code` is it. Every
    attempt counts towards the limit of wrong codes first, so concurrent guesses cannot outrun
    it; the writes of a right code clear the count. An expired code gets a fresh one sent."""
    services = ctx.services
    services.limits.spend(CODE_FAILURES, user.id)
    (stored,) = services.store.table.read(services.store.secrets.read(purpose, user.id))
    now = services.clock.now()
    code = onetime.normalize_code(raw_code)
    if stored is None:
        result = Check.WRONG
    else:
        result = onetime.check(purpose, user.id, code, stored.digest, stored.valid_until, now)
    if stored is None or result is Check.WRONG:
        ctx.audit(Event.CODE_FAILURE, user.id, purpose=purpose.value)
        raise InvalidCode()
    if result is Check.EXPIRED:
        _send_code(ctx, purpose, user, stored.new_email or user.email, new_email=stored.new_email)
        raise CodeExpired()
    return TakenCode(
        [
            services.store.secrets.consume(purpose, user.id, stored.digest, now, InvalidCode),
            services.limits.clear(CODE_FAILURES, user.id),
        ],
        stored.new_email,
    )


def _store_secret(
    ctx: RequestContext,
    purpose: Purpose,
    user_id: str,
    secret: str,
    minutes: int,
    *,
    new_email: str | None = None,
) -> Write:
    valid_until = ctx.services.clock.now() + minutes * 60
    digest = onetime.digest(purpose, user_id, secret)
    return ctx.services.store.secrets.put(purpose, user_id, digest, valid_until, new_email)
