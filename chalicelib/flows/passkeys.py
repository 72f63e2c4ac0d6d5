"""Passkeys (WebAuthn): registering them, signing in with one (no password, two factors in
one), and using one as the second factor after a password.

Every challenge is stored in DynamoDB for 5 minutes, bound to the session or the sign-in
attempt that asked for it (a short-lived cookie; a header for token clients), and consumed by
a conditional delete, so a second use of one challenge fails. Options requests are
rate-limited per IP. A second factor must come from one of the signed-in user's own passkeys.
A sign count that does not grow is refused and audited as a possible clone; a passkey signs
in only while its user's item lists it, and an assertion's user handle, when it has one, must
be that user's (WebAuthn Level 3, 7.2). Registering, renaming or deleting a passkey needs a
two-factor-verified session and re-authentication (the password, or one given on this session
in the last 5 minutes: RequestContext.reauthenticate); each change is mailed to the user. Only
an account with a verified address can add one: on an unverified one it could be a squatter's,
waiting for the address's owner. A name is 1 to 64 characters, none of them a control or
format character (Unicode Cc and Cf: U+202E would turn a notice's text around).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from typing import Any

from chalicelib import webauthn_rp
from chalicelib.audit import Event
from chalicelib.errors import (
    InvalidCredentials,
    InvalidPasskey,
    InvalidRequest,
    NoPasskeys,
    NotFound,
    ReauthenticationRequired,
    TooManyPasskeys,
    TwoFactorOff,
)
from chalicelib.flows.context import Access, RequestContext
from chalicelib.limits import PASSKEY_OPTIONS_PER_IP
from chalicelib.mail import Kind
from chalicelib.sessions import PASSKEY, methods
from chalicelib.signin_methods import SignInMethods
from chalicelib.store.accounts import UserItem
from chalicelib.store.passkeys import MAX_PASSKEYS, PasskeyRecord
from chalicelib.store.table import Write
from chalicelib.users import User, user_of_item
from chalicelib.webauthn_rp import BadCredential, CloneSuspected, RelyingParty

MAX_NAME = 64
_REFUSED_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
REGISTER, LOGIN, SECOND_FACTOR = "register", "login", "second-factor"


# -- registering and managing -------------------------------------------------------------


def registration_options(ctx: RequestContext, password: str | None) -> dict[str, Any]:
    """Creation options for a new passkey of the signed-in user (re-authenticated)."""
    current = ctx.require(Access.ACCOUNT, verified=True)
    owner = _reauthenticated_owner(ctx, password)
    if len(owner.passkeys) >= MAX_PASSKEYS:
        raise TooManyPasskeys()
    ctx.services.limits.spend(PASSKEY_OPTIONS_PER_IP, ctx.ip_key or "unknown")
    handle = owner.webauthn_handle or _first_handle(ctx, owner.user_id)
    challenge = webauthn_rp.new_challenge()
    ctx.commit(_challenge(ctx, challenge, REGISTER, current.id, owner.user_id))
    return webauthn_rp.registration_options(
        _relying_party(ctx),
        challenge,
        user_handle=webauthn_rp.handle_bytes(handle),
        email=owner.email,
        exclude=sorted(owner.passkeys),
    )


def register(ctx: RequestContext, credential: Any, name: str) -> PasskeyRecord:
    """Verify a new credential against its challenge and keep it; the user has two factors
    from now on (a first passkey ends their other sessions and rotates this one)."""
    current = ctx.require(Access.ACCOUNT, verified=True)
    name = _valid_name(name)
    challenge = _take(ctx, credential, REGISTER, current.id, InvalidPasskey)
    try:
        registered = webauthn_rp.verify_registration(_relying_party(ctx), credential, challenge)
    except BadCredential as error:
        _failed(ctx, current.user.id, "registration", error)
        raise InvalidPasskey() from None
    store = ctx.services.store
    (owner,) = store.table.read(store.accounts.user(current.user.id))
    if owner is None or owner.webauthn_handle is None:
        raise InvalidPasskey()  # the account went away meanwhile
    now = ctx.services.clock.now()
    record = PasskeyRecord(
        credential_id=registered.credential_id,
        user_id=owner.user_id,
        public_key=registered.public_key,
        sign_count=registered.sign_count,
        transports=registered.transports,
        device_type=registered.device_type,
        backed_up=registered.backed_up,
        aaguid=registered.aaguid,
        name=name,
        created_at=now,
        last_used_at=now,
    )
    ctx.send_mail(Kind.PASSKEY_ADDED, owner.email, name=name)
    writes = store.passkeys.add(owner, record, owner.webauthn_handle)
    if owner.two_factor:
        store.table.commit(*writes)
    else:
        claim = store.accounts.update_claim(owner.user_id, owner.email, two_factor=True)
        user = current.user._replace(two_factor_enabled=True)
        ctx.rotate_sessions(user, [*writes, claim], two_factor_verified=True)
    ctx.audit(Event.PASSKEY_ADDED, owner.user_id, passkey=record.credential_id[:16])
    return record


def list_passkeys(ctx: RequestContext) -> list[PasskeyRecord]:
    user = ctx.require(Access.ACCOUNT).user
    store = ctx.services.store
    (owner,) = store.table.read(store.accounts.user(user.id))
    return [] if owner is None else store.passkeys.all_of(owner)


def rename(ctx: RequestContext, credential_id: str, name: str, password: str | None) -> None:
    name = _valid_name(name)
    owner, record = _own_passkey(ctx, credential_id, password)
    ctx.send_mail(Kind.PASSKEY_RENAMED, owner.email, name=name)
    ctx.commit(ctx.services.store.passkeys.rename(record, name))
    ctx.audit(Event.PASSKEY_RENAMED, owner.user_id, passkey=credential_id[:16])


def delete(ctx: RequestContext, credential_id: str, password: str | None) -> None:
    """The passkey gone; without another factor left, the user's two-factor ends (and their
    other sessions with it)."""
    current = ctx.require(Access.ACCOUNT)
    owner, record = _own_passkey(ctx, credential_id, password)
    SignInMethods.of(owner, ctx.services.settings).check_removal(passkeys=1)
    store = ctx.services.store
    still_on = owner.totp or len(owner.passkeys) > 1
    ctx.send_mail(Kind.PASSKEY_REMOVED, owner.email, name=record.name)
    removal = store.passkeys.remove(owner, credential_id)
    if still_on:
        ctx.commit(*removal)
    else:
        claim = store.accounts.update_claim(owner.user_id, owner.email, two_factor=False)
        user = current.user._replace(two_factor_enabled=False)
        ctx.rotate_sessions(user, [*removal, claim], two_factor_verified=False)
    ctx.audit(Event.PASSKEY_REMOVED, owner.user_id, passkey=credential_id[:16])


# -- signing in ----------------------------------------------------------------------------


def login_options(ctx: RequestContext) -> dict[str, Any]:
    """Request options for a discoverable sign-in; the challenge is bound to this client (by a
    short-lived cookie, or a value a token client sends back), so it answers for no one else."""
    ctx.services.limits.spend(PASSKEY_OPTIONS_PER_IP, ctx.ip_key or "unknown")
    attempt = secrets.token_urlsafe(24)
    challenge = webauthn_rp.new_challenge()
    ctx.services.store.table.commit(_challenge(ctx, challenge, LOGIN, _binding(attempt), ""))
    ctx.bind_passkey_attempt(attempt, ctx.services.clock.now() + webauthn_rp.CHALLENGE_SECONDS)
    return webauthn_rp.authentication_options(_relying_party(ctx), challenge)


class PasskeySignInFailed(InvalidCredentials):
    message = "This passkey could not sign you in. Try again, or use your password."


def log_in(ctx: RequestContext, credential: Any) -> User:
    """A sign-in with a passkey and no password: user verification makes it two factors."""
    if ctx.attempt is None:
        raise PasskeySignInFailed()
    challenge = _take(ctx, credential, LOGIN, _binding(ctx.attempt), PasskeySignInFailed)
    ctx.release_passkey_attempt()  # used up
    record, owner = _passkey_and_owner(ctx, credential, PasskeySignInFailed)
    if not _handle_is_owners(credential, owner):
        _failed(ctx, owner.user_id, "sign-in", BadCredential("another user's handle"))
        raise PasskeySignInFailed()
    user = user_of_item(owner)
    used = _verify(ctx, credential, challenge, record, PasskeySignInFailed, during="sign-in")
    # User-verified and phishing-resistant: it re-authenticates the session it starts.
    ctx.start_session(user, [used], amr=PASSKEY, two_factor_verified=True, reauthenticated=True)
    ctx.audit(Event.LOGIN_SUCCESS, user.id, method="passkey")
    return user


def second_factor_options(ctx: RequestContext) -> dict[str, Any]:
    """Request options naming the signed-in user's passkeys, for the second step."""
    session = ctx.require(Access.SESSION)
    if not session.user.two_factor_enabled:
        raise TwoFactorOff("Two-factor sign-in is not on for this account.")
    store = ctx.services.store
    (owner,) = store.table.read(store.accounts.user(session.user.id))
    if owner is None or not owner.passkeys:
        raise NoPasskeys()
    ctx.services.limits.spend(PASSKEY_OPTIONS_PER_IP, ctx.ip_key or "unknown")
    challenge = webauthn_rp.new_challenge()
    store.table.commit(_challenge(ctx, challenge, SECOND_FACTOR, session.id, owner.user_id))
    return webauthn_rp.authentication_options(
        _relying_party(ctx), challenge, allow=sorted(owner.passkeys)
    )


def second_factor(ctx: RequestContext, credential: Any) -> User:
    """The second step with one of this user's own passkeys: the session is rotated into a
    verified one."""
    session = ctx.require(Access.SESSION)
    user = session.user
    challenge = _take(ctx, credential, SECOND_FACTOR, session.id, InvalidPasskey)
    record, _ = _passkey_and_owner(ctx, credential, InvalidPasskey)
    if record.user_id != user.id:  # someone else's passkey proves nothing about this user
        _failed(ctx, user.id, "second-factor", BadCredential("another user's passkey"))
        raise InvalidPasskey()
    used = _verify(ctx, credential, challenge, record, InvalidPasskey, during="second-factor")
    ctx.start_session(
        user,
        [used],
        amr=methods(session.amr, PASSKEY),
        two_factor_verified=True,
        reauthenticated=True,
    )
    ctx.audit(Event.TWO_FACTOR_VERIFIED, user.id, method="passkey")
    return user


def prove_for_reset(ctx: RequestContext, credential: Any, user_id: str) -> Write:
    """A password reset's second factor given by a passkey: an assertion for a sign-in
    challenge this browser asked for, from one of the account's own passkeys. The write
    records its sign count (the caller commits it with the reset)."""
    if ctx.attempt is None:
        raise InvalidPasskey()
    challenge = _take(ctx, credential, LOGIN, _binding(ctx.attempt), InvalidPasskey)
    ctx.release_passkey_attempt()
    record, _ = _passkey_and_owner(ctx, credential, InvalidPasskey)
    if record.user_id != user_id:
        _failed(ctx, user_id, "password-reset", BadCredential("another user's passkey"))
        raise InvalidPasskey()
    return _verify(ctx, credential, challenge, record, InvalidPasskey, during="password-reset")


# -- internals ------------------------------------------------------------------------------


def _relying_party(ctx: RequestContext) -> RelyingParty:
    settings = ctx.services.settings
    return RelyingParty.of(settings.public_origin or "", settings.mail_sender_name)


def _challenge(
    ctx: RequestContext, challenge: bytes, purpose: str, binding: str, user_id: str
) -> Write:
    until = ctx.services.clock.now() + webauthn_rp.CHALLENGE_SECONDS
    return ctx.services.store.passkeys.put_challenge(challenge, purpose, binding, user_id, until)


def _first_handle(ctx: RequestContext, user_id: str) -> str:
    """The user's WebAuthn handle, made now; if a concurrent request made one first, that one
    (every passkey of a user carries the same handle)."""
    store = ctx.services.store
    handle = webauthn_rp.new_handle()
    if store.table.try_commit(store.passkeys.first_handle(user_id, handle)):
        return handle
    (owner,) = store.table.read(store.accounts.user(user_id))
    if owner is None or owner.webauthn_handle is None:
        raise ReauthenticationRequired()  # the account went away meanwhile
    return owner.webauthn_handle


def _binding(attempt: str) -> str:
    return hashlib.sha256(attempt.encode()).hexdigest()


def _take(
    ctx: RequestContext,
    credential: Any,
    purpose: str,
    binding: str,
    error: type[InvalidCredentials] | type[InvalidPasskey],
) -> bytes:
    """The challenge this credential answers, consumed: unknown, used, expired or another's
    challenge is `error`."""
    if not isinstance(credential, dict):
        raise InvalidRequest("The field 'credential' must be the credential's JSON object.")
    try:
        challenge = webauthn_rp.challenge_of(credential)
    except BadCredential:
        raise error() from None
    taken = ctx.services.store.passkeys.take_challenge(
        challenge, purpose, binding, ctx.services.clock.now()
    )
    if taken is None:
        raise error()
    return challenge


def _passkey_and_owner(
    ctx: RequestContext, credential: Any, error: type[InvalidCredentials] | type[InvalidPasskey]
) -> tuple[PasskeyRecord, UserItem]:
    try:
        credential_id = webauthn_rp.credential_id_of(credential)
    except BadCredential:
        raise error() from None
    store = ctx.services.store
    (record,) = store.table.read(store.passkeys.passkey(credential_id))
    if record is None:
        raise error()
    (owner,) = store.table.read(store.accounts.user(record.user_id))
    if owner is None or record.credential_id not in owner.passkeys:
        raise error()  # a passkey its user's item does not list signs nobody in
    return record, owner


def _handle_is_owners(credential: Any, owner: UserItem) -> bool:
    """An assertion's user handle, when it has one, is the credential's owner's."""
    try:
        handle = webauthn_rp.user_handle_of(credential)
    except BadCredential:
        return False
    if handle is None:
        return True
    own = owner.webauthn_handle
    return own is not None and handle == webauthn_rp.handle_bytes(own)


def _verify(
    ctx: RequestContext,
    credential: Any,
    challenge: bytes,
    record: PasskeyRecord,
    error: type[InvalidCredentials] | type[InvalidPasskey],
    *,
    during: str,
) -> Write:
    """The write that records a verified assertion's new sign count."""
    try:
        count = webauthn_rp.verify_assertion(
            _relying_party(ctx), credential, challenge, record.public_key, record.sign_count
        )
    except CloneSuspected as clone:
        ctx.audit(
            Event.PASSKEY_CLONE_SUSPECTED,
            record.user_id,
            passkey=record.credential_id[:16],
            detail=str(clone),
            during=during,
        )
        raise error() from None
    except BadCredential as bad:
        _failed(ctx, record.user_id, during, bad)
        raise error() from None
    return ctx.services.store.passkeys.used(record, count, ctx.services.clock.now())


def _reauthenticated_owner(ctx: RequestContext, password: str | None) -> UserItem:
    """The user's passkey state, once they proved it is them: the password (checked like a
    login), or a re-authentication on this session within the last 5 minutes."""
    session = ctx.require(Access.ACCOUNT)
    check = ctx.reauthenticate(password, extra=[ctx.services.store.accounts.user(session.user.id)])
    (owner,) = check.extra
    if owner is None:
        raise ReauthenticationRequired()
    return owner


def _own_passkey(
    ctx: RequestContext, credential_id: str, password: str | None
) -> tuple[UserItem, PasskeyRecord]:
    owner = _reauthenticated_owner(ctx, password)
    if credential_id not in owner.passkeys:
        raise NotFound("You have no passkey with this id.")
    store = ctx.services.store
    (record,) = store.table.read(store.passkeys.passkey(credential_id))
    if record is None or record.user_id != owner.user_id:
        raise NotFound("You have no passkey with this id.")
    return owner, record


def _valid_name(raw: str) -> str:
    name = raw.strip()
    if not 1 <= len(name) <= MAX_NAME or any(
        unicodedata.category(c) in _REFUSED_IN_NAMES for c in name
    ):
        raise InvalidRequest(
            "A passkey's name has 1 to 64 characters, and no control or formatting characters."
        )
    return name


def _failed(ctx: RequestContext, user_id: str | None, during: str, error: BadCredential) -> None:
    ctx.audit(Event.PASSKEY_FAILURE, user_id, during=during, detail=str(error)[:200])
