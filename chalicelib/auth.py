"""Authentication flows as one request sees them: like Flask-Login's login_user/logout_user and
Lucia's validateRequest, bound to the request's cookie, client address and user agent.

Each flow is one named operation, so the security steps cannot be forgotten by a route:
rotating the session on sign-in, throttling and counting failed passwords, revoking sessions
on a password change, and writing the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from chalicelib.audit import Event
from chalicelib.errors import (
    InvalidCredentials,
    InvalidEmail,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
)
from chalicelib.passwords import check_password_policy
from chalicelib.sessions import Session, SessionSummary
from chalicelib.store.accounts import Credentials
from chalicelib.store.table import Write
from chalicelib.users import User, login_key, normalize_email

if TYPE_CHECKING:
    from chalicelib.runtime import Services


class RequestAuth:
    """The session state of one request. Validates at most once and remembers which cookie
    the response must carry (`set_cookie`)."""

    def __init__(self, services: Services, token: str | None, ip: str, user_agent: str) -> None:
        self._services = services
        self._token = token
        self._ip = ip
        self._user_agent = user_agent
        self._validated = False
        self._session: Session | None = None
        self.set_cookie: str | None = None

    # -- the current session ---------------------------------------------------------------

    def session(self) -> Session | None:
        if self._validated:
            return self._session
        if self._token is not None:
            session = self._services.sessions.validate_session(self._token)
            if session is None:
                self.set_cookie = self._services.cookies.blank_cookie()
            elif session.fresh:
                self.set_cookie = self._session_cookie(self._token, session)
            self._session = session
        self._validated = True
        return self._session

    def require(self) -> Session:
        session = self.session()
        if session is None:
            raise Unauthenticated()
        return session

    # -- signing in and out ---------------------------------------------------------------------

    def sign_up(self, email: str, password: str) -> User:
        user, account = self._services.accounts.register(email, password)
        self._start(user, writes=account)  # the account exists only with its first session
        self._audit(Event.SIGNUP, user.id)
        return user

    def log_in(self, email: str, password: str) -> User:
        user, writes, _ = self._check_password(login_key(email), password)
        self._start(user, writes=writes)
        self._audit(Event.LOGIN_SUCCESS, user.id)
        return user

    def log_out(self) -> None:
        """Destroy the presented session, if any, and clear the cookie either way."""
        ended = self._sign_out()
        if ended is not None:
            self._audit(Event.LOGOUT, ended.user.id)

    # -- account changes (re-authenticated with the current password) --------------------------

    def change_password(self, current_password: str, new_password: str) -> User:
        """New password; every session of the user ends and this client gets a new one."""
        check_password_policy(new_password)  # a bad new password is a 400, not a failed attempt
        user, credentials, writes = self._reauthenticate(current_password)
        new_hash = self._services.accounts.new_password(credentials, new_password)
        token, session = self._services.sessions.replace_all_sessions(
            user,
            presented=self._token,
            user_agent=self._user_agent,
            ip=self._ip,
            two_factor_verified=self.require().two_factor_verified,
            writes=[new_hash, *writes],
        )
        self._adopt(token, session)
        self._audit(Event.PASSWORD_CHANGED, user.id)
        return user

    def delete_account(self, password: str) -> None:
        """Delete the user, the email claim and every session; the email is free again."""
        user, _, _ = self._reauthenticate(password)
        sessions = self._services.sessions
        sessions.end_all_sessions(
            user.id, presented=self._token, writes=self._services.accounts.delete(user)
        )
        # A login that raced with the deletion may have added a session: sweep once more.
        sessions.invalidate_user_sessions(user.id)
        self._token = None  # its session went with the account: nothing left to delete
        self._sign_out()
        self._audit(Event.ACCOUNT_DELETED, user.id)

    # -- the user's sessions ------------------------------------------------------------------

    def list_sessions(self) -> tuple[list[SessionSummary], str]:
        """The user's sessions, newest first, and the id of the current one."""
        current = self.require()
        return self._services.sessions.list_sessions(current.user.id), current.id

    def revoke_session(self, session_id: str) -> None:
        current = self.require()
        if session_id == current.id:
            self._sign_out()
        elif not self._services.sessions.revoke_session(current.user.id, session_id):
            raise NotFound("No session of yours has this id.")
        self._audit(Event.SESSION_REVOKED, current.user.id, session_id=session_id)

    def revoke_other_sessions(self) -> int:
        current = self.require()
        count = self._services.sessions.invalidate_user_sessions(
            current.user.id, keep_session_id=current.id
        )
        self._audit(Event.SESSION_REVOKED, current.user.id, scope="others", count=count)
        return count

    # -- internals ----------------------------------------------------------------------------

    def _reauthenticate(self, password: str) -> tuple[User, Credentials, list[Write]]:
        """The signed-in user, after checking their password; failures count like logins."""
        user = self.require().user
        checked, writes, credentials = self._check_password(
            user.email, password, user_id=user.id, reason="reauthentication"
        )
        if checked.id != user.id or credentials is None:
            raise Unauthenticated()  # the account was deleted, or the email passed on
        return user, credentials, writes

    def _check_password(
        self, email_key: str, password: str, user_id: str | None = None, **details: str
    ) -> tuple[User, list[Write], Credentials | None]:
        """Every password check, in one read round trip (the failure counters and the email's
        credentials): refused while throttled, a failure counted and audited. On success,
        the user and the writes it owes (clearing earlier failures, a re-hash), for the
        caller to commit together with its own."""
        services = self._services
        throttle = services.throttle
        reads = throttle.reads(email_key, self._ip)
        email = _valid_email(email_key)
        if email is not None:
            reads.append(services.accounts.credentials(email))
        *seen, credentials = services.store.table.read(*reads)
        if email is None:
            seen, credentials = [*seen, credentials], None
        try:
            had_failures = throttle.check(email_key, self._ip, seen)
        except TooManyAttempts:
            self._audit(Event.LOGIN_THROTTLED, user_id, **details)
            raise
        try:
            user, writes = services.accounts.verify(credentials, password)
        except InvalidCredentials:
            throttle.record_failure(email_key, self._ip, seen)
            self._audit(Event.LOGIN_FAILURE, user_id, **details)
            raise
        if had_failures:
            writes.append(throttle.clear(email_key))
        return user, writes, credentials

    def _start(self, user: User, writes: Sequence[Write] = ()) -> None:
        """Sign `user` in with a new session, ending the one this client held (no fixation) in
        the same write as `writes`: a failure leaves the client signed in as before."""
        token, session = self._services.sessions.create_session(
            user,
            user_agent=self._user_agent,
            ip=self._ip,
            replacing=self._token,
            writes=writes,
        )
        self._adopt(token, session)

    def _adopt(self, token: str, session: Session) -> None:
        self._token, self._session, self._validated = token, session, True
        self.set_cookie = self._session_cookie(token, session)

    def _sign_out(self) -> Session | None:
        ended = self._end_presented_session()
        self._session, self._validated = None, True
        self.set_cookie = self._services.cookies.blank_cookie()
        return ended

    def _end_presented_session(self) -> Session | None:
        if self._token is None:
            return None
        ended = self._services.sessions.invalidate_session(self._token)
        self._token = None
        return ended

    def _session_cookie(self, token: str, session: Session) -> str:
        return self._services.cookies.session_cookie(
            token, session.expires_at, self._services.clock.now()
        )

    def _audit(self, event: Event, user_id: str | None, **details: str | int) -> None:
        self._services.audit.record(
            event, user_id=user_id, ip=self._ip, user_agent=self._user_agent, **details
        )


def _valid_email(email_key: str) -> str | None:
    """The login key as a normalised email, or None when it is none (no account to read)."""
    try:
        return normalize_email(email_key)
    except InvalidEmail:
        return None
