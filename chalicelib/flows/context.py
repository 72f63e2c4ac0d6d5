"""The request context every flow runs in: like Flask-Login's login_user/logout_user and
Lucia's validateRequest, bound to the request's cookie, client address and user agent.

It owns the steps that no flow may get wrong on its own: validating the session at most once
and gating it (two-factor, verified email), rotating the session on every sign-in or change to
the account, throttling and counting password checks, re-authentication before sensitive
changes, what the response must hand back (`Reply`), and the audit log.

Flows never see a Cookie or Authorization header. The edge (chalicelib.web) reads what the
client presented, by its transport, and renders the `Reply` the same way: as cookies for a
browser, or as `session_token` and headers for a token client.

Re-authentication is proof given on an existing session: a password checked like a login, an
emailed code (flows.codes), or a passkey assertion on this session (a passkey sign-in's own
counts: it is user-verified). It lasts REAUTHENTICATION_SECONDS on the session; a sign-in by
password or code does not count by itself (ASVS 7.5.1).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from chalicelib import client_ip
from chalicelib.audit import Event
from chalicelib.errors import (
    AccountDisabled,
    EmailUnverified,
    ImpersonationForbidden,
    InvalidCredentials,
    ReauthenticationRequired,
    ServiceUnavailable,
    SignUpDenied,
    TooManyAttempts,
    TwoFactorRequired,
    Unauthenticated,
)
from chalicelib.ids import new_id
from chalicelib.mail import Kind
from chalicelib.passwords import MAX_PASSWORD_LENGTH
from chalicelib.roles import ROLES_GRANT
from chalicelib.sessions import ActiveOrganization, Impersonator, Session
from chalicelib.store.accounts import Credentials, KnownDevice, Rehashed
from chalicelib.store.table import Read, Write, both
from chalicelib.throttle import Attempt
from chalicelib.transports import CLEARED, Handout, Presented, Reply, Transport
from chalicelib.users import LoginKey, User

if TYPE_CHECKING:
    from chalicelib.hooks import Report
    from chalicelib.imports import ImportedIdentity
    from chalicelib.migration import Migrated
    from chalicelib.runtime import Services

logger = logging.getLogger(__name__)

REAUTHENTICATION_SECONDS = 5 * 60
DEVICE_SECONDS = 180 * 86_400  # how long a browser stays known after a right password


class Access(IntEnum):
    """How far a session must be along for a route, each level including the ones before."""

    SESSION = 1  # any live session: a second factor may still be owed, the email unverified
    ACCOUNT = 2  # the second factor given (if the user has one): managing the account
    RESOURCE = 3  # and the email verified, where the stage requires it: everything else


T = TypeVar("T")


class _Owed(NamedTuple):
    """A write a right password owes, and what the response hands out once it is written (a
    device cookie: never for a write that failed)."""

    write: Write
    handout: Handout | None = None
    fallback: Write | None = None  # instead of `write` when it raises Rehashed (see `_write`)


class PasswordCheck(NamedTuple):
    """A right password (or a recent re-authentication). What its success owes (earlier
    failures cleared, the hash upgraded to today's parameters, the browser known) is not
    here: the context keeps it and writes it with the flow's next write, whichever that is,
    so no flow can drop it (Django's check_password with its setter, made unforgettable)."""

    user: User
    extra: list[Any]  # the records of the extra reads, in their order
    # The account migration on first sign-in just vouched for (chalicelib.migration): the
    # writes that create it, for the sign-in's own transaction. Empty for an existing account.
    account: Sequence[Write] = ()


class RequestContext:
    """The session state of one request. Validates at most once and remembers what the
    response must hand back (`reply`)."""

    def __init__(
        self, services: Services, presented: Presented, ip: str, user_agent: str, base_path: str
    ) -> None:
        self.services = services
        self.presented = presented  # by the edge, from the request's transport
        self.ip = ip
        self.ip_key = client_ip.limit_key(ip)  # what per-IP limits count under
        self.user_agent = user_agent
        self.base_path = base_path  # API Gateway's stage prefix (`/api`), or ""
        self.attempt = presented.passkey_attempt  # the passkey sign-in this client began
        self.oauth_attempt = presented.oauth_attempt  # the social sign-in this browser began
        self.reply = Reply()
        self._token = presented.token
        self._validated = False
        self._session: Session | None = None
        self._reauthenticated_now = 0  # when this request re-authenticated the session (0: not)
        self._reauthentication_saved = False
        # What a right password owes, and the conditions it puts on the flow's next write.
        self._owed: list[_Owed] = []
        self._guards: list[Write] = []

    # -- the current session ---------------------------------------------------------------

    def session(self) -> Session | None:
        if self._validated:
            return self._session
        if self._token is not None:
            session = self.services.sessions.validate_session(self._token)
            if session is None:
                self.reply.session, self.reply.rejected = CLEARED, True
            elif session.fresh:  # a cookie's Max-Age follows the extended expiry
                self.reply.session = Handout(self._token, session.expires_at)
            self._session = session
        self._validated = True
        return self._session

    def require(self, access: Access = Access.RESOURCE, *, verified: bool = False) -> Session:
        """The session, if it grants `access`: else 401, or 403 naming what is missing. With
        `verified`, the address must be verified whatever the stage says: what an unverified
        account may not add (a second factor, a passkey, a sign-in identity) could be a
        squatter's, waiting for the address's owner."""
        session = self.session()
        if session is None:
            raise Unauthenticated()
        if access >= Access.ACCOUNT and session.second_factor_owed:
            raise TwoFactorRequired()
        resource = access >= Access.RESOURCE and self.services.settings.require_verified_email
        if (verified or resource) and not session.user.email_verified:
            raise EmailUnverified()
        return session

    def require_owner(self) -> Session:
        """The session, managing the account, of the account's owner: an admin impersonating
        them may look, but never change how the account signs in, nor delete it (403)."""
        session = self.require(Access.ACCOUNT)
        if session.impersonator is not None:
            raise ImpersonationForbidden()
        return session

    # -- what binds a sign-in attempt to the client that began it ---------------------------

    def bind_passkey_attempt(self, attempt: str, expires_at: int) -> None:
        self.reply.passkey_attempt = Handout(attempt, expires_at)

    def release_passkey_attempt(self) -> None:
        self.reply.passkey_attempt = CLEARED

    def begin_signup_attempt(self, expires_at: int) -> str:
        """A quiet sign-up begun by this client: the digest to store beside its chosen
        password, whose binding the response hands out (a cookie, or `signup_attempt`)."""
        attempt = secrets.token_urlsafe(32)
        self.reply.signup_attempt = Handout(attempt, expires_at)
        return str(_digest(attempt))

    def began_signup(self, binding: str | None) -> bool:
        """Whether this client began the quiet sign-up stored with `binding`; its binding
        is used up either way."""
        presented = _digest(self.presented.signup_attempt)
        if self.presented.signup_attempt is not None:
            self.reply.signup_attempt = CLEARED
        return bool(binding and presented) and hmac.compare_digest(str(binding), str(presented))

    def bind_oauth_attempt(self, attempt: str, expires_at: int) -> None:
        self.reply.oauth_attempt = Handout(attempt, expires_at)

    def release_oauth_attempt(self) -> None:
        self.reply.oauth_attempt = CLEARED

    # -- the team's hooks -------------------------------------------------------------------

    def allow_sign_up(self, email: str, method: str) -> None:
        """The team's before_sign_up hook (chalicelib.hooks), asked before anything of a new
        account is written: 403 sign_up_denied, with its message, if it refuses (or fails and
        denies on error). `method`: password, email_code or oauth:<provider id>."""
        try:
            self.services.hooks.before_sign_up(email, method, self.hook_failed(None))
        except SignUpDenied:
            self.audit(Event.SIGNUP_DENIED, None, method=method)
            raise

    def hook_failed(self, user_id: str | None) -> Report:
        """How a failed hook is audited: which hook, where it runs, why; nothing it was given
        or answered."""

        def report(hook: str, source: str, reason: str) -> None:
            self.audit(Event.HOOK_FAILED, user_id, hook=hook, source=source, reason=reason)

        return report

    # -- starting and ending sessions -------------------------------------------------------

    def start_session(
        self,
        user: User,
        writes: Sequence[Write] = (),
        *,
        amr: tuple[str, ...],
        two_factor_verified: bool = False,
        reauthenticated: bool = False,
        impersonator: Impersonator | None = None,
        absolute_lifetime: int | None = None,
    ) -> Session:
        """Sign `user` in with a new session, ending the one this client held (no fixation) in
        the same write as `writes`: a failure leaves the client signed in as before. `amr`
        says how (chalicelib.sessions' method names). A sign-in that is itself a
        re-authentication (a passkey's assertion) says so. Never for a banned account, nor
        with roles the account no longer holds (`_in_standing`)."""
        self._in_standing(user)
        held = self.presented.held_cookie
        token, session = self._write(
            writes,
            lambda together: self.services.sessions.create_session(
                user,
                user_agent=self.user_agent,
                ip=self.ip,
                two_factor_verified=two_factor_verified,
                reauthenticated_at=self.services.clock.now() if reauthenticated else 0,
                amr=amr,
                # A token client's cookie session ends too: a sign-in ends what the client held.
                replacing=(self._token, held),
                writes=together,
                impersonator=impersonator,
                absolute_lifetime=absolute_lifetime,
            ),
        )
        self.reply.held_cookie_ended = held is not None
        return self._adopt(token, session)

    def rotate_sessions(
        self,
        user: User,
        writes: Sequence[Write] = (),
        *,
        two_factor_verified: bool,
        amr: tuple[str, ...] | None = None,
    ) -> Session:
        """After a change to the account: end every session of `user` and give this client a
        new one that knows the account as it now is, atomically with `writes`. How and when
        the client signed in carries over, unless the change is itself a sign-in (`amr`)."""
        self._in_standing(user)
        current = self._session if self._validated else None
        earlier = 0 if current is None else current.reauthenticated_at
        if amr is None and current is not None:
            signed_in: dict[str, Any] = {
                "amr": current.amr,
                "auth_time": current.auth_time or current.created_at,
            }
        else:
            signed_in = {"amr": amr or ()}
        token, session = self._write(
            writes,
            lambda together: self.services.sessions.replace_all_sessions(
                user,
                presented=self._token,
                acting=current is not None and current.user.id == user.id,
                user_agent=self.user_agent,
                ip=self.ip,
                two_factor_verified=two_factor_verified,
                # The client's proof goes with it to its new session.
                reauthenticated_at=max(earlier, self._reauthenticated_now),
                writes=together,
                **signed_in,
            ),
        )
        return self._adopt(token, session)

    def _in_standing(self, user: User) -> None:
        """A session is never made for a banned account (403 account_disabled), and the
        transaction that makes one holds only while the account is still unbanned and holds
        exactly the roles the session will carry: a ban or a change of roles that commits
        between this request's read and its write fails it, instead of leaving a session the
        ban's sweep (or the role change's) never saw."""
        now = self.services.clock.now()
        if user.banned(now):
            self.audit(Event.LOGIN_REFUSED_BANNED, user.id)
            raise AccountDisabled()
        self._guards.append(self.services.store.accounts.standing(user.id, user.roles, now))

    def end_every_session(self, user_id: str, writes: Sequence[Write] = ()) -> None:
        """End every session of the user, this one included, atomically with `writes`."""
        current = self._session if self._validated else None
        self._write(
            writes,
            lambda together: self.services.sessions.end_all_sessions(
                user_id,
                presented=self._token,
                acting=current is not None and current.user.id == user_id,
                writes=together,
            ),
        )
        self._token = None  # its session is gone: nothing left to delete
        self.sign_out()

    def sign_out(self) -> Session | None:
        """Destroy the presented session, if any; the response clears the cookie either way."""
        ended = None
        if self._token is not None:
            ended = self.services.sessions.invalidate_session(self._token)
            self._token = None
        self._session, self._validated = None, True
        self.reply.session, self.reply.new_session = CLEARED, False
        return ended

    def work_in(
        self, organization: ActiveOrganization | None, writes: Sequence[Write] = ()
    ) -> Session:
        """The presented session works in `organization` from now on, with the role it names
        (None: in none), written with `writes` (what the role was read from must still hold)
        all or nothing; a session ended meanwhile fails it (401). The session as it now is."""
        session = self.require(Access.RESOURCE)
        digest = self.services.sessions.digest_of(self._token)
        if digest is None:  # never so for a validated session; said for the type checker
            raise Unauthenticated()
        self.commit(
            self.services.store.sessions.set_organization(
                digest,
                None if organization is None else organization.id,
                "" if organization is None else organization.role,
            ),
            *writes,
        )
        self._session = session._replace(organization=organization)
        return self._session

    def _adopt(self, token: str, session: Session) -> Session:
        self._token, self._session, self._validated = token, session, True
        self._reauthentication_saved = True  # the new session holds it, if there was one
        self.reply.session, self.reply.new_session = Handout(token, session.expires_at), True
        return session

    # -- passwords --------------------------------------------------------------------------

    def check_password(
        self,
        login: LoginKey,
        password: str,
        *,
        extra: Sequence[Read] = (),
        user_id: str | None = None,
        migrate: bool = False,
        **details: str,
    ) -> PasswordCheck:
        """Every password check, in one read round trip (the failure counters, the email's
        credentials, which know the browsers known to the account, and any `extra` reads):
        refused while throttled, a failure counted and audited. On success, the user; what the
        success owes goes with the flow's next write."""
        services = self.services
        throttle = services.throttle
        device = _digest(self.presented.device)
        attempt = Attempt(login.key, self.ip_key, device)
        counters = throttle.reads(attempt)
        own = [] if login.email is None else [services.users.credentials(login.email)]
        results = services.store.table.read(*counters, *own, *extra)
        seen, rest = results[: len(counters)], results[len(counters) :]
        credentials = rest.pop(0) if own else None
        now = services.clock.now()
        trusted = (
            device is not None
            and credentials is not None
            and now < credentials.devices.get(device, 0)
        )
        try:
            had_failures = throttle.check(attempt, seen, trusted=trusted)
        except TooManyAttempts:
            self.audit(Event.LOGIN_THROTTLED, user_id, **details)
            raise
        started = time.perf_counter()
        account: list[Write] = []
        try:
            if credentials is None:
                migrated = None
                if migrate and login.email is not None:
                    migrated = self._migrated_by_password(login.email, password)
                if migrated is None:
                    services.users.refuse_unknown(password)
                user, account = migrated
                new_hash = None
            else:
                user, new_hash = services.users.verify(credentials, password)
        except InvalidCredentials:
            # Every failure takes as long as the slowest verifier the stage holds hashes of
            # (a success is not padded: it tells nothing the session it starts does not).
            services.pause(services.users.failure_seconds() - (time.perf_counter() - started))
            throttle.record_failure(attempt, seen, trusted=trusted)
            self.audit(Event.LOGIN_FAILURE, user_id, **details)
            raise
        if had_failures:
            self._owed.append(_Owed(throttle.clear(attempt, trusted=trusted)))
        if credentials is not None and not credentials.email_verified:
            # The password of an unverified account is gone or replaced once the address is
            # first proven (flows.mailbox): a flow that checked it before then fails.
            self._guards.append(services.store.accounts.still_unproven(credentials))
        self._owe_the_claim(credentials, new_hash, trusted, now)
        return PasswordCheck(user, rest, account)

    def _migrated_by_password(self, email: str, password: str) -> tuple[User, list[Write]] | None:
        """The account the old system vouches for with this password (MIGRATE_FROM_URL), with
        our own hash of it; None when it does not, or fails (then audited, and the sign-in
        fails as a wrong password would)."""
        services = self.services
        if not services.settings.migrate_from_url or len(password) > MAX_PASSWORD_LENGTH:
            return None
        from chalicelib.migration import MigrationUnavailable

        try:
            migrated = services.migration.ask(email, password, self.hook_failed(None))
        except MigrationUnavailable:
            return None
        if migrated is None:
            return None
        password_hash = services.users.hash_of_migrated(password)
        return self.migrated_account(email, migrated, proven=False, password_hash=password_hash)

    def migration_for(self, email: str) -> Migrated | None:
        """What the old system knows of `email`, for a sign-in that proved the address some
        other way (an emailed code, a provider's verified address) and found no account: None
        when nothing (no MIGRATE_FROM_URL, or it does not know them); 503 when the endpoint
        failed, so no account starts without the profile it had."""
        if not self.services.settings.migrate_from_url:
            return None
        return self.services.migration.ask(email, None, self.hook_failed(None))

    def migrated_account(
        self,
        email: str,
        migrated: Migrated,
        *,
        proven: bool,
        password_hash: str | None = None,
        identity: ImportedIdentity | None = None,
    ) -> tuple[User, list[Write]]:
        """A new account for a user the old system vouched for, with its profile: the writes
        of an import's (chalicelib.imports), for the sign-in's own transaction. Its address is
        verified if this sign-in `proven` it (a code, a trusted provider) or the old system
        says it was."""
        from chalicelib.imports import ImportedUser, writes

        services = self.services
        now = services.clock.now()
        user_id = new_id()
        verified = proven or migrated.email_verified
        imported = ImportedUser(
            email=email,
            email_verified=verified,
            created_at=migrated.created_at or now,
            password=password_hash,
            totp_secret=None,
            identities=() if identity is None else (identity,),
            passkeys=(),
            roles=migrated.roles,
            source_id=migrated.source_id or email,
            webauthn_handle=None,
            grants_roles=services.roles.grants(migrated.roles, ROLES_GRANT),
        )
        account = writes(services.store, imported, None, now, user_id=user_id)
        self.audit(Event.USER_MIGRATED, user_id)
        user = User(
            user_id,
            email,
            email_verified=verified,
            has_password=password_hash is not None,
            roles=migrated.roles,
        )
        return user, account

    def _owe_the_claim(
        self, credentials: Credentials | None, new_hash: str | None, trusted: bool, now: int
    ) -> None:
        """What a right password owes its claim, in one write: the hash upgraded (outdated or
        imported: in the same transaction as the session a sign-in starts), and this browser
        known to the account from now on (a device cookie), if it was not."""
        if credentials is None:
            return
        handout, device = None, None
        if not trusted and self.presented.transport is Transport.COOKIE:
            token = secrets.token_urlsafe(32)
            handout = Handout(token, now + DEVICE_SECONDS)
            device = KnownDevice(str(_digest(token)), handout.expires_at, now)
        if new_hash is None and device is None:
            return
        accounts = self.services.store.accounts
        write = accounts.after_password(credentials, new_hash=new_hash, device=device)
        # A parallel check of the same password that upgraded first (a double click) must not
        # fail this flow: it goes on over that upgrade instead.
        fallback = None if new_hash is None else accounts.after_other_upgrade(credentials, device)
        self._owed.append(_Owed(write, handout, fallback=fallback))

    def reauthenticate(self, password: str | None, *, extra: Sequence[Read] = ()) -> PasswordCheck:
        """Re-authentication before a sensitive change: the signed-in user's password, checked
        like a login (failures count, throttled attempts refused), which then counts for
        REAUTHENTICATION_SECONDS; or, with no password, a re-authentication on this session
        within that time (else 401 reauthentication_required). `extra` is read either way, in
        the same round trip."""
        session = self.require_owner()  # an impersonating admin proves nothing of the owner's
        if not password:
            if not self.recently_reauthenticated():
                raise ReauthenticationRequired()
            records = self.services.store.table.read(*extra) if extra else []
            return PasswordCheck(session.user, records)
        return self.verify_password(password, extra=extra)

    def verify_password(self, password: str, *, extra: Sequence[Read] = ()) -> PasswordCheck:
        """The signed-in user's password, checked like a login: on success the session counts
        as re-authenticated (saved with the flow's writes, see `commit`)."""
        user = self.require(Access.ACCOUNT).user
        check = self.check_password(
            LoginKey(user.email, user.email),
            password,
            extra=extra,
            user_id=user.id,
            reason="reauthentication",
        )
        if check.user.id != user.id:
            raise Unauthenticated()  # the email passed to another account meanwhile
        self.mark_reauthenticated()
        self.audit(Event.REAUTHENTICATED, user.id, method="password")
        return check

    def reauthenticated_until(self) -> int:
        """When this session's re-authentication runs out (in the past: none in force)."""
        session = self.require(Access.ACCOUNT)
        at = max(session.reauthenticated_at, self._reauthenticated_now)
        return at + REAUTHENTICATION_SECONDS if at else 0

    def recently_reauthenticated(self) -> bool:
        return self.services.clock.now() < self.reauthenticated_until()

    def mark_reauthenticated(self) -> None:
        """This request re-authenticated the session: saved by the next `commit`, or carried to
        the new session if this request rotates it."""
        self.require_owner()
        self._reauthenticated_now = self.services.clock.now()
        self._reauthentication_saved = False

    def commit(self, *writes: Write) -> None:
        """The flow's writes, all or nothing, with the session's own update if this request
        re-authenticated it, and what a right password owes."""
        pending = list(writes)
        digest = self.services.sessions.digest_of(self._token)
        if self._reauthenticated_now and not self._reauthentication_saved and digest:
            pending.append(
                self.services.store.sessions.reauthenticated(digest, self._reauthenticated_now)
            )
        if pending:
            self._write(pending, lambda together: self.services.store.table.commit(*together))
        else:
            self.settle()  # nothing of the flow's to guard or to join
        self._reauthentication_saved = True

    def _write(self, writes: Sequence[Write], run: Callable[[list[Write]], T]) -> T:
        """Run the flow's transaction (`run`) over `writes`, the guards a password check put on
        it (a password check's, a new session's standing), and what is owed that can join it;
        then write the rest of what is owed. A transaction writes each item once: a guard on an
        item the flow writes itself gives way to the flow's own condition, two guards on one
        item become one, and an owed write to such an item waits. Should `run`
        fail, nothing counts as written: what is owed stays owed (`settle`)."""
        items = {write.pk for write in writes}
        by_item: dict[str, Write] = {}
        for guard in self._guards:
            if guard.pk not in items:
                held = by_item.get(guard.pk)
                by_item[guard.pk] = guard if held is None else both(held, guard)
        guards = list(by_item.values())
        items |= set(by_item)
        joining, waiting = [], []
        for owed in self._owed:
            if owed.write.pk not in items:
                joining.append(owed)
                items.add(owed.write.pk)
            else:
                waiting.append(owed)
        try:
            result = run([*writes, *guards, *(owed.write for owed in joining)])
        except Rehashed:
            # The hash this password was checked against was upgraded by a parallel check of
            # the same password: once more, over that upgrade (the fallback's condition).
            joining = [o._replace(write=o.fallback or o.write, fallback=None) for o in joining]
            result = run([*writes, *guards, *(owed.write for owed in joining)])
        self._guards, self._owed = [], waiting
        self._hand_out(joining)
        self.settle()
        return result

    def start_over(self) -> None:
        """Forget what a check whose flow failed put on the next write (its guards, and what
        it owed): for a flow that checks again, as after a migrated account lost its race."""
        self._owed, self._guards = [], []

    def settle(self) -> None:
        """What a right password owes and no write of the flow took with it (an item the flow
        wrote too, or a flow that refused after the check): written now, each on its own and
        only if still right (a hash upgrade is conditional on the hash it upgrades, so it never
        overwrites a password set meanwhile). The edge calls this after every answer but a
        5xx, whose failed writes must hand nothing out; guards are never written alone."""
        owed, self._owed, self._guards = self._owed, [], []
        written = []
        table = self.services.store.table
        for entry in owed:
            try:
                if table.try_commit(entry.write) or (
                    # Lost to a parallel upgrade: the browser is still to be known.
                    entry.fallback is not None
                    and entry.handout is not None
                    and table.try_commit(entry.fallback)
                ):
                    written.append(entry)
            except ServiceUnavailable:
                # Best effort: what the flow did is done; the next right password owes it again.
                logger.warning("a right password's follow-up write failed: %s", entry.write.pk[:6])
        self._hand_out(written)

    def _hand_out(self, written: Sequence[_Owed]) -> None:
        for entry in written:
            if entry.handout is not None:
                self.reply.device = entry.handout

    def link(self, path: str) -> str:
        """An absolute link to one of our pages, for mail: the public origin (never the
        request's Host, which the client writes) and the stage prefix API Gateway reports."""
        return self.services.mail.link(self.base_path + path)

    def send_mail(self, kind: Kind, to: str, *, console: str = "", **context: Any) -> None:
        """One message, its links under this request's stage prefix (503 if it cannot go)."""
        self.services.mail.send(kind, to, site=self.link(""), console=console, **context)

    # -- the audit log ----------------------------------------------------------------------

    def audit(self, event: Event, user_id: str | None, **details: str | int) -> None:
        self.services.audit.record(
            event, user_id=user_id, ip=self.ip, user_agent=self.user_agent, **details
        )


def _digest(token: str | None) -> str | None:
    return None if not token else hashlib.sha256(token.encode()).hexdigest()
