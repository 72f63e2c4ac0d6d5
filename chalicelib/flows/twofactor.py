"""Two-factor sign-in: an authenticator app (TOTP) and recovery codes.

Beyond the references: a TOTP step is accepted at most once per user (the step is recorded in
the same conditional write that the code allows), a recovery code is removed in that write,
5 wrong codes lock the second step for 15 minutes in DynamoDB (across containers, counted as
chalicelib.limits counts guesses: a right code that a copy of itself beat, a double click, is
refused without being counted), the secret is encrypted at rest (AES-GCM, the key outside the
table), and a password reset of a verified account cannot skip the second factor
(`prove_for_reset`). Only an account with a verified address can turn the app on: on an
unverified one it could be a squatter's, waiting for the address's owner.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from chalicelib import onetime, totp
from chalicelib.audit import Event
from chalicelib.errors import InvalidCode, TwoFactorAlreadyOn, TwoFactorOff
from chalicelib.flows.context import Access, RequestContext
from chalicelib.limits import TWO_FACTOR_ATTEMPTS
from chalicelib.mail import Kind
from chalicelib.sessions import ONE_TIME_CODE, methods
from chalicelib.store.accounts import UserItem
from chalicelib.store.counters import Counter
from chalicelib.store.table import Write
from chalicelib.store.twofactor import Proof
from chalicelib.users import User

PENDING_SECONDS = 10 * 60
RECOVERY_CODES = 10


class Setup(NamedTuple):
    secret: str  # base32, for typing into the app by hand
    uri: str  # otpauth://, what the QR code holds
    qr_svg: str


class Status(NamedTuple):
    totp: bool
    recovery_codes_left: int


class Factors(NamedTuple):
    totp: bool
    passkeys: bool


def factors(ctx: RequestContext) -> Factors:
    """Which second factors the signed-in user has (their second step offers those)."""
    user = ctx.require(Access.SESSION).user
    store = ctx.services.store
    (owner,) = store.table.read(store.accounts.user(user.id))
    if owner is None:
        return Factors(False, False)
    return Factors(owner.totp, bool(owner.passkeys))


def status(ctx: RequestContext) -> Status:
    state = _state(ctx)
    return Status(state.totp_secret is not None, len(state.recovery_codes))


def begin_setup(ctx: RequestContext, password: str | None) -> Setup:
    """A new secret, pending for 10 minutes until a code from it comes back."""
    user = ctx.require(Access.ACCOUNT, verified=True).user
    check = ctx.reauthenticate(password, extra=[ctx.services.store.accounts.user(user.id)])
    (state,) = check.extra
    if state.totp_secret is not None:
        raise TwoFactorAlreadyOn()
    secret = totp.new_secret()
    sealed = ctx.services.keys.keyring.encrypt(secret, _context(user.id))
    until = ctx.services.clock.now() + PENDING_SECONDS
    ctx.commit(ctx.services.store.twofactor.begin(user.id, sealed, until, TwoFactorAlreadyOn))
    ctx.audit(Event.TWO_FACTOR_SETUP_STARTED, user.id)
    uri = totp.provisioning_uri(secret, user.email, ctx.services.settings.totp_issuer)
    return Setup(secret, uri, totp.qr_svg(uri))


def pending_setup(ctx: RequestContext) -> Setup | None:
    """The set-up still waiting for its first code, shown again (after a wrong code, say)."""
    user = ctx.require(Access.ACCOUNT).user
    state = _state(ctx)
    if state.totp_pending is None or state.totp_pending_until <= ctx.services.clock.now():
        return None
    secret = ctx.services.keys.keyring.decrypt(state.totp_pending, _context(user.id))
    uri = totp.provisioning_uri(secret, user.email, ctx.services.settings.totp_issuer)
    return Setup(secret, uri, totp.qr_svg(uri))


def enable(ctx: RequestContext, code: str) -> list[str]:
    """The first code from the app turns it on: recovery codes (shown this once), every other
    session ended, this one rotated and verified, a notice mailed first."""
    current = ctx.require(Access.ACCOUNT, verified=True)
    user = current.user
    seen, state = _read_with_attempts(ctx, user.id)
    now = ctx.services.clock.now()
    if state.totp_pending is None or state.totp_pending_until <= now:
        raise InvalidCode("No set-up is waiting for a code: start the set-up again.")
    limits = ctx.services.limits
    limits.check(TWO_FACTOR_ATTEMPTS, seen)
    secret = ctx.services.keys.keyring.decrypt(state.totp_pending, _context(user.id))
    step = totp.matching_step(secret, code.strip(), now)
    if step is None:
        ctx.audit(Event.TWO_FACTOR_FAILURE, user.id, method="totp", during="setup")
        limits.spend(TWO_FACTOR_ATTEMPTS, user.id)
        raise InvalidCode()
    codes, digests = _recovery_codes(user.id)
    on = user._replace(two_factor_enabled=True)
    ctx.send_mail(Kind.TWO_FACTOR_ENABLED, user.email)
    store = ctx.services.store
    ctx.rotate_sessions(
        on,
        [
            store.twofactor.enable(state, step, digests),
            store.accounts.update_claim(user.id, user.email, two_factor=True),
            limits.clear_unless_reached(TWO_FACTOR_ATTEMPTS, user.id, seen),
        ],
        two_factor_verified=True,
        amr=methods(current.amr, ONE_TIME_CODE),  # the app's first code was just given
    )
    ctx.audit(Event.TWO_FACTOR_ENABLED, user.id)
    return codes


def verify(ctx: RequestContext, code: str) -> User:
    """The second step of a sign-in: a TOTP code (each step once) or a recovery code (used
    up). This client's session is rotated into a verified one."""
    session = ctx.require(Access.SESSION)
    user = session.user
    if not user.two_factor_enabled or session.two_factor_verified:
        return user  # nothing owed
    seen, state = _read_with_attempts(ctx, user.id)
    proof, guard = _prove(ctx, state, seen, code, during="sign-in")
    ctx.start_session(
        user,
        [ctx.services.store.twofactor.use(user.id, proof), guard],
        amr=methods(session.amr, ONE_TIME_CODE),
        two_factor_verified=True,
    )
    ctx.audit(Event.TWO_FACTOR_VERIFIED, user.id, method=_method(proof))
    return user


def replace_recovery_codes(ctx: RequestContext, password: str | None, code: str) -> list[str]:
    """A fresh set of recovery codes; the old set dies."""
    user = ctx.require(Access.ACCOUNT).user
    seen, state = _reauthenticate_with_state(ctx, password)
    proof, guard = _prove(ctx, state, seen, code, during="recovery-codes")
    codes, digests = _recovery_codes(user.id)
    ctx.send_mail(Kind.RECOVERY_CODES_REPLACED, user.email)
    ctx.commit(ctx.services.store.twofactor.replace_recovery_codes(user.id, proof, digests), guard)
    ctx.audit(Event.RECOVERY_CODES_REPLACED, user.id)
    return codes


def disable(ctx: RequestContext, password: str | None, code: str) -> None:
    """TOTP off (the password and a code both needed); other sessions end, a notice first."""
    current = ctx.require(Access.ACCOUNT)
    user = current.user
    seen, state = _reauthenticate_with_state(ctx, password)
    proof, guard = _prove(ctx, state, seen, code, during="disable")
    still_on = bool(state.passkeys)  # passkeys are a second factor of their own
    ctx.send_mail(Kind.TWO_FACTOR_DISABLED, user.email)
    store = ctx.services.store
    ctx.rotate_sessions(
        user._replace(two_factor_enabled=still_on),
        [
            store.twofactor.disable(state, proof),
            store.accounts.update_claim(user.id, user.email, two_factor=still_on),
            guard,
        ],
        two_factor_verified=still_on and current.two_factor_verified,
    )
    ctx.audit(Event.TWO_FACTOR_DISABLED, user.id)


def prove_for_reset(
    ctx: RequestContext, state: UserItem, seen: Counter | None, code: str
) -> list[Write]:
    """A password reset of a verified two-factor account: its second factor, checked and
    counted like a sign-in's; the writes that spend it and record that the account has a
    password now (for the reset's transaction)."""
    proof, guard = _prove(ctx, state, seen, code, during="password-reset")
    return [ctx.services.store.twofactor.use(state.user_id, proof, sets_password=True), guard]


def attempts_read(ctx: RequestContext, user_id: str) -> Any:
    return ctx.services.limits.read(TWO_FACTOR_ATTEMPTS, user_id)


# -- internals ------------------------------------------------------------------------------


def _prove(
    ctx: RequestContext, state: UserItem, seen: Counter | None, code: str, *, during: str
) -> tuple[Proof, Write]:
    """The proof `code` gives, and the write that clears the count of wrong codes with it
    (unless parallel wrong ones reached the lock: then 429). A wrong code is counted, then
    answered `InvalidCode` (429 once over the limit); the right code used already (a replayed
    step, a spent recovery code: a double click, or a copy that lost the race) is answered
    `InvalidCode` without being counted: it is no guess."""
    if state.totp_secret is None:
        raise TwoFactorOff()
    limits = ctx.services.limits
    limits.check(TWO_FACTOR_ATTEMPTS, seen)
    typed = "".join(code.split())
    proof: Proof | None = None
    used = False
    if totp.is_code(typed):
        secret = ctx.services.keys.keyring.decrypt(state.totp_secret, _context(state.user_id))
        step = totp.matching_step(secret, typed, ctx.services.clock.now())
        if step is not None and step > state.totp_last_step:  # a replayed step is refused
            proof = Proof(totp_step=step)
        used = step is not None and step <= state.totp_last_step
    else:
        digest = onetime.digest(onetime.RECOVERY_CODE, state.user_id, onetime.normalize_code(code))
        if digest in state.recovery_codes:
            proof = Proof(recovery_digest=digest)
        used = digest in state.used_recovery_codes
    if proof is None:
        if used:
            raise InvalidCode()
        method = "totp" if totp.is_code(typed) else "recovery_code"
        ctx.audit(Event.TWO_FACTOR_FAILURE, state.user_id, method=method, during=during)
        limits.spend(TWO_FACTOR_ATTEMPTS, state.user_id)  # 429 instead, once over the limit
        raise InvalidCode()
    return proof, limits.clear_unless_reached(TWO_FACTOR_ATTEMPTS, state.user_id, seen)


def _state(ctx: RequestContext) -> UserItem:
    user = ctx.require(Access.ACCOUNT).user
    store = ctx.services.store
    (state,) = store.table.read(store.accounts.user(user.id))
    return state


def _read_with_attempts(ctx: RequestContext, user_id: str) -> tuple[Counter | None, Any]:
    store = ctx.services.store
    seen, state = store.table.read(attempts_read(ctx, user_id), store.accounts.user(user_id))
    return seen, state


def _reauthenticate_with_state(
    ctx: RequestContext, password: str | None
) -> tuple[Counter | None, UserItem]:
    """Re-authentication (the password checked like a login, or one given on this session
    lately), in the same round trip as the two-factor state and its lock."""
    user = ctx.require(Access.ACCOUNT).user
    check = ctx.reauthenticate(
        password, extra=[attempts_read(ctx, user.id), ctx.services.store.accounts.user(user.id)]
    )
    seen, state = check.extra
    return seen, state


def _recovery_codes(user_id: str) -> tuple[list[str], list[str]]:
    codes = [onetime.new_recovery_code() for _ in range(RECOVERY_CODES)]
    digests = [
        onetime.digest(onetime.RECOVERY_CODE, user_id, onetime.normalize_code(c)) for c in codes
    ]
    return codes, digests


def _method(proof: Proof) -> str:
    return "totp" if proof.totp_step is not None else "recovery_code"


def _context(user_id: str) -> str:
    return totp.secret_context(user_id)
