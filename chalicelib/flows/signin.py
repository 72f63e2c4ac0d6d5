"""Signing in and out, the user's sessions, and the account itself (password, deletion).

Each flow is one named operation, so the security steps cannot be forgotten by a route:
rotating the session on sign-in, throttling and counting failed passwords, revoking sessions
on a password change, the notice by mail, and the audit log.
"""

from __future__ import annotations

import logging
import time

from chalicelib.audit import Event
from chalicelib.errors import AlreadyImported, EmailTaken, NotFound, ServiceUnavailable
from chalicelib.flows import codes, email, mailed_codes, orgs
from chalicelib.flows.context import Access, RequestContext
from chalicelib.limits import SIGNUPS_PER_EMAIL, signups_per_ip
from chalicelib.mail import Kind
from chalicelib.onetime import Purpose
from chalicelib.passwords import check_password_policy
from chalicelib.roles import ROLES_GRANT
from chalicelib.sessions import PASSWORD, SessionSummary
from chalicelib.store.accounts import UserItem
from chalicelib.store.table import Write
from chalicelib.users import User, login_key, normalize_email

logger = logging.getLogger(__name__)


def sign_up(ctx: RequestContext, raw_email: str, password: str) -> User | None:
    """A new account, signed in, with a verification code on its way (409 email_taken for an
    address that has one). The account exists only with its first session and its code (one
    write); a failed send does not undo it: the user can ask for another code.

    Limited per client address (SIGNUP_IP_MAX an hour) and per address (3 per 10 minutes),
    every answer counted: a 409 tells whether an address has an account. With
    SIGNUP_REVEALS_ACCOUNTS=false it tells nothing: see `_sign_up_quietly` (None). The team's
    before_sign_up hook is asked first, whichever way (403 sign_up_denied)."""
    services = ctx.services
    settings = services.settings
    address = normalize_email(raw_email, deliverable=True)
    check_password_policy(password)  # bad input is a 400 and costs no sign-up
    if ctx.ip_key:
        services.limits.spend(signups_per_ip(settings.signup_ip_max), ctx.ip_key)
    services.limits.spend(SIGNUPS_PER_EMAIL, address)
    # Whether or not the address has an account (the hook is not told): a refusal tells
    # nothing a quiet sign-up hides.
    ctx.allow_sign_up(address, "password")
    password_hash = services.users.new_password_hash(password)
    if not settings.signup_reveals_accounts:
        _sign_up_quietly(ctx, address, password_hash)
        return None
    user, account = services.users.register(address, password_hash)
    code, verification = email.verification_for_new_user(ctx, user)
    ctx.start_session(user, [*account, *verification], amr=PASSWORD)
    ctx.audit(Event.SIGNUP, user.id)
    try:
        email.send_verification(ctx, user, code)
    except ServiceUnavailable:
        ctx.audit(Event.MAIL_FAILED, user.id, mail=Kind.VERIFY_EMAIL.template)
    return user


def _sign_up_quietly(ctx: RequestContext, address: str, password_hash: str) -> None:
    """The same answer, in the same time, whether or not the address has an account, and
    nobody signed in: a new address is mailed a sign-in code that carries the chosen password
    (entering it makes the account, flows.codes); a taken one's owner is told of the attempt.
    Either way the client gets a binding (`signup_attempt`): the password goes to the account
    only when the code comes back from the client that chose it, never to whoever else enters
    it (the address's owner, sent a code she never asked for, or one that replaced hers)."""
    started = time.monotonic()
    services = ctx.services
    (credentials,) = services.store.table.read(services.users.credentials(address))
    user_id = None if credentials is None else credentials.user_id
    minutes = mailed_codes.RULES[Purpose.LOGIN_CODE].minutes
    binding = ctx.begin_signup_attempt(services.clock.now() + minutes * 60)
    try:
        if credentials is None:
            to = mailed_codes.Addressee(address, address)
            code, write = mailed_codes.new(
                ctx, Purpose.LOGIN_CODE, to, password_hash=password_hash, binding=binding
            )
            services.store.table.commit(write)
            codes.send_login_code(ctx, address, code, new_account=True)
        else:
            ctx.send_mail(Kind.SIGNUP_ATTEMPTED, address, link=ctx.link("/login"))
    except ServiceUnavailable:
        # A 503 for some addresses only would tell which have accounts.
        ctx.audit(Event.MAIL_FAILED, user_id, mail="signup")
    ctx.audit(Event.SIGNUP_REQUESTED, user_id)
    services.pause(email.RESET_RESPONSE_SECONDS - (time.monotonic() - started))


def log_in(ctx: RequestContext, raw_email: str, password: str) -> User:
    """A session for the right password (with MIGRATE_FROM_URL, an address without an account
    is asked about there, and its account made in the session's own write)."""
    check = ctx.check_password(login_key(raw_email), password, migrate=True)
    try:
        ctx.start_session(check.user, check.account, amr=PASSWORD)
    except (EmailTaken, AlreadyImported):
        if not check.account:
            raise
        # A parallel first sign-in made the account a moment ago: sign in to that one.
        ctx.start_over()
        check = ctx.check_password(login_key(raw_email), password)
        ctx.start_session(check.user, amr=PASSWORD)
    ctx.audit(Event.LOGIN_SUCCESS, check.user.id)
    return check.user


def log_out(ctx: RequestContext) -> None:
    """Destroy the presented session, if any, and clear the cookie either way."""
    ended = ctx.sign_out()
    if ended is not None:
        ctx.audit(Event.LOGOUT, ended.user.id)
        if ended.impersonator is not None:
            ctx.audit(
                Event.ADMIN_IMPERSONATION_ENDED,
                ended.user.id,
                actor_id=ended.impersonator.id,
                session_id=ended.id,
            )


def change_password(ctx: RequestContext, current_password: str | None, new_password: str) -> User:
    """New password; every session of the user ends and this client gets a new one. The old
    address is told before anything changes: no change without its notice. Without
    `current_password`, a re-authentication on this session must be recent: that is how an
    account without a password gets its first one."""
    check_password_policy(new_password)  # a bad new password is a 400, not a failed attempt
    current = ctx.require(Access.ACCOUNT)
    ctx.reauthenticate(current_password)
    user = current.user
    first = not user.has_password
    new_hash = ctx.services.users.new_password_hash(new_password)
    accounts = ctx.services.store.accounts
    ctx.send_mail(Kind.PASSWORD_SET if first else Kind.PASSWORD_CHANGED, user.email)
    ctx.rotate_sessions(
        user._replace(has_password=True),
        [
            accounts.update_claim(user.id, user.email, password_hash=new_hash),
            *([accounts.update_user(user.id, has_password=True)] if first else []),
            *email.discard_reset(ctx, user.id),
        ],
        two_factor_verified=current.two_factor_verified,
    )
    ctx.audit(Event.PASSWORD_SET if first else Event.PASSWORD_CHANGED, user.id)
    return user._replace(has_password=True)


def delete_account(ctx: RequestContext, password: str | None) -> None:
    """Delete the user, the email claim, their one-time secrets, their memberships and every
    session; the email is free again. The last administrator able to grant roles cannot (409
    last_admin), nor the last owner of an organization with other members (409 last_owner)."""
    store = ctx.services.store
    # Never behind a verified address: deleting is always the owner's right (Access.ACCOUNT).
    current = ctx.require_owner()
    check = ctx.reauthenticate(password, extra=[store.accounts.user(current.user.id)])
    user = check.user
    (owner,) = check.extra
    ctx.end_every_session(user.id, removal(ctx, user, owner))
    ctx.audit(Event.ACCOUNT_DELETED, user.id)
    sweep_sessions(ctx, user.id)
    if owner is not None:
        orgs.sweep_dissolved(ctx, owner.orgs)


def removal(ctx: RequestContext, user: User, owner: UserItem | None) -> list[Write]:
    """Every write that deletes an account (`owner`: its item as read): the user item and its
    email claim, one-time secrets, passkeys and sign-in identities, its place among those
    who grant roles (never the last: LastAdmin), and its memberships (an organization it is
    the only member of goes with it; never the last owner of one with other members:
    LastOwner; flows.orgs.departures). Within one transaction's 100 items: a session's own
    delete joins them, the others' go in batches (SessionManager.end_all_sessions)."""
    store = ctx.services.store
    roles = user.roles if owner is None else owner.roles
    return [
        *ctx.services.users.delete(user, None if owner is None else owner.orgs),
        *([] if owner is None else orgs.departures(ctx, owner)),
        *email.discard_all(ctx, user),
        # Nothing of the account stays behind: a sign-in identity left over would sign in to
        # nothing, and would keep its provider account from ever signing up again.
        *([] if owner is None else store.passkeys.forget(owner)),
        *([] if owner is None else store.identities.forget(user.id, owner.identities)),
        *(
            [store.granters.remove(user.id)]
            if ctx.services.roles.grants(roles, ROLES_GRANT)
            else []
        ),
    ]


def sweep_sessions(ctx: RequestContext, user_id: str) -> None:
    """After a deletion or a ban: a login that committed between the write's listing of the
    user's sessions and its commit left a session the write never saw, so sweep once more (a
    login after the commit fails its condition on the account). The change is done either
    way, so a failed sweep is logged rather than answered as a 503 that would invite a retry
    of something done."""
    try:
        ctx.services.sessions.invalidate_user_sessions(user_id)
    except ServiceUnavailable:
        logger.exception("account %s changed, but the final sweep of its sessions failed", user_id)


# -- the user's sessions ------------------------------------------------------------------


def list_sessions(ctx: RequestContext) -> tuple[list[SessionSummary], str]:
    """The user's sessions, newest first, and the id of the current one."""
    current = ctx.require(Access.ACCOUNT)
    return ctx.services.sessions.list_sessions(current.user.id), current.id


def revoke_session(ctx: RequestContext, session_id: str) -> None:
    current = ctx.require(Access.ACCOUNT)
    if session_id == current.id:
        ctx.sign_out()
    elif not ctx.services.sessions.revoke_session(current.user.id, session_id):
        raise NotFound("No session of yours has this id.")
    ctx.audit(Event.SESSION_REVOKED, current.user.id, session_id=session_id)


def revoke_other_sessions(ctx: RequestContext) -> int:
    current = ctx.require(Access.ACCOUNT)
    count = ctx.services.sessions.invalidate_user_sessions(
        current.user.id, keep_session_id=current.id
    )
    ctx.audit(Event.SESSION_REVOKED, current.user.id, scope="others", count=count)
    return count
