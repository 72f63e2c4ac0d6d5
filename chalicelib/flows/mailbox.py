"""Proof of an account's mailbox: every path that marks an existing account's current address
as verified goes through `prove` (store.accounts' `verified` and `first_proof` are called from
here alone; tests/test_mailbox.py lists every route that reaches them). An account made with
a proven address (a code sign-up, a trusted provider) is verified from its first write, and
an email change moves the account to the address its code proved (flows.email).

The proof is a secret mailed to the address and shown back. Who shows it decides what it means:

- The account's own session (the verification code, `by_holder`): the person signed in reads
  the mail, and what they set up stays theirs.
- Anyone without a session of the account (a code sign-in, a password reset, and any such path
  added later). For an unverified account this is the *first* proof of its address, and
  whatever was set up before it may be a squatter's, made to wait for the address's owner (a
  pre-account takeover: sign up with someone's address, add a password, a provider identity,
  a passkey, and wait for them to reset). So the first proof removes, in the very write that
  records it: the password (but the one a reset sets), the authenticator app and its recovery
  codes, the passkeys, the linked identities, every outstanding one-time secret (an email
  change's code included) and every session; the prover gets the account's one session. It
  asks for no second factor: none set up before it was the owner's. The write is conditional on
  the account's lists being as read, so a passkey or identity added meanwhile makes the proof
  fail (503, retry) rather than survive it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

from chalicelib.audit import Event
from chalicelib.errors import AppError, InvalidCode, ServiceUnavailable
from chalicelib.flows.context import RequestContext
from chalicelib.onetime import BY_USER, Purpose
from chalicelib.sessions import Session
from chalicelib.store.accounts import UserItem
from chalicelib.store.table import Conflict, Write
from chalicelib.users import User, user_of_item

logger = logging.getLogger(__name__)


class Proof(NamedTuple):
    writes: Sequence[Write]  # using up the secret that proves the mailbox (and what goes with)
    account: UserItem  # the account whose address it is, as read: unverified
    method: str  # for the audit log: "verification", "code", "reset"
    amr: tuple[str, ...] = ()  # how a prover without a session signs in (RFC 8176)
    holder: Session | None = None  # the account's own session that shows it
    password_hash: str | None = None  # a reset's new password
    gone: type[AppError] = InvalidCode  # the answer when the account went away meanwhile


def prove(ctx: RequestContext, proof: Proof) -> User:
    """The address of `proof.account` verified, and the prover signed in with the account's
    one session; for a first proof, with everything set up before it gone."""
    account = proof.account
    if proof.holder is not None:
        return _by_holder(ctx, proof, proof.holder)
    store = ctx.services.store
    user = user_of_item(account)._replace(
        email_verified=True,
        two_factor_enabled=False,
        has_password=proof.password_hash is not None,
    )
    written = {write.pk for write in proof.writes}
    secrets = [
        *(store.secrets.discard(purpose, account.user_id) for purpose in sorted(BY_USER)),
        store.secrets.discard(Purpose.LOGIN_CODE, account.email),
    ]
    try:
        session = ctx.rotate_sessions(
            user,
            [
                *proof.writes,
                *store.accounts.first_proof(account, proof.password_hash),
                *store.passkeys.forget(account),
                *store.identities.forget(account.user_id, account.identities),
                *(write for write in secrets if write.pk not in written),
            ],
            two_factor_verified=False,
            amr=proof.amr,
        )
    except Conflict:
        # The account changed since it was read (nothing was written): a way in added
        # meanwhile (503: try again, and it goes too), or the account deleted.
        (still,) = store.table.read(store.accounts.user(account.user_id))
        if still is None:
            raise proof.gone() from None
        raise
    _sweep(ctx, user.id, session.id)
    removed = {
        "password": int(account.has_password),
        "totp": int(account.totp),
        "passkeys": len(account.passkeys),
        "identities": len(account.identities),
    }
    if any(removed.values()):
        ctx.audit(Event.UNPROVEN_CREDENTIALS_REMOVED, user.id, **removed)
    ctx.audit(Event.EMAIL_VERIFIED, user.id, method=proof.method)
    return user


def _by_holder(ctx: RequestContext, proof: Proof, holder: Session) -> User:
    user = holder.user._replace(email_verified=True)
    ctx.rotate_sessions(
        user,
        [*proof.writes, *ctx.services.store.accounts.verified(user.id, user.email)],
        two_factor_verified=holder.two_factor_verified,
    )
    ctx.audit(Event.EMAIL_VERIFIED, user.id, method=proof.method)
    return user


def _sweep(ctx: RequestContext, user_id: str, keep: str) -> None:
    """A sign-in that raced the proof may have added a session the index did not list yet:
    sweep once more. The proof is done either way, so a failed sweep is logged, not a 503
    that would invite a retry of something done."""
    try:
        ctx.services.sessions.invalidate_user_sessions(user_id, keep_session_id=keep)
    except ServiceUnavailable:
        logger.exception("user %s: the sweep after a first proof of the address failed", user_id)
