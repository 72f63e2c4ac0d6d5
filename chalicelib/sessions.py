"""Server-side sessions: create, validate (sliding expiry with a `fresh` flag), invalidate.

The counterpart of Lucia's session core, with two additions: the store keeps only a SHA-256
digest of each token, and sliding extension never passes an absolute lifetime.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from typing import NamedTuple

from chalicelib.clock import Clock
from chalicelib.config import Settings
from chalicelib.store import Store
from chalicelib.store.sessions import SessionRecord
from chalicelib.store.table import Write
from chalicelib.users import User

# 32 random bytes (256 bits) as URL-safe base64: 43 characters that need no cookie quoting.
_TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
_MAX_USER_AGENT = 256

# How a session's user signed in, as RFC 8176's authentication method references (`amr`).
PASSWORD = ("pwd",)
EMAIL_CODE = ("mail",)  # a code (or a reset link) sent by email: proof of the mailbox
PASSKEY = ("hwk", "user", "mfa")  # a user-verified passkey: a key held and a user present
PROVIDER = ("fed",)  # a social sign-in: federated
ONE_TIME_CODE = ("otp", "mfa")  # a second factor: an authenticator app's or a recovery code


def methods(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """The methods of `groups`, each once, in order."""
    return tuple(dict.fromkeys(name for group in groups for name in group))


class Impersonator(NamedTuple):
    """The admin behind an impersonation session."""

    id: str
    email: str


class ActiveOrganization(NamedTuple):
    """The organization a session works in (PUT /auth/session/organization), and the user's
    role there as the session carries it: kept current by every change of that membership
    (`set_org_role`), so a protected request reads nothing more."""

    id: str
    role: str


class Session(NamedTuple):
    id: str  # public handle for listing and revocation; useless as a cookie
    user: User
    created_at: int
    expires_at: int
    fresh: bool  # created or extended by this call: the cookie must be (re)sent
    two_factor_verified: bool = False
    reauthenticated_at: int = 0  # the last re-authentication on this session (0: never)
    amr: tuple[str, ...] = ()  # how the user signed in (RFC 8176 names)
    auth_time: int = 0  # when
    impersonator: Impersonator | None = None  # an admin acting as the user
    organization: ActiveOrganization | None = None  # None: working in none

    @property
    def second_factor_owed(self) -> bool:
        """The user has a second factor and this session has not given it yet."""
        return self.user.two_factor_enabled and not self.two_factor_verified


class SessionSummary(NamedTuple):
    """What a user may see of one of their sessions (never the token or its digest)."""

    id: str
    created_at: int
    last_used_at: int
    expires_at: int
    user_agent: str
    ip: str
    impersonator: Impersonator | None = None  # an admin's impersonation: the admin


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class SessionManager:
    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._items = store.sessions
        self._clock = clock
        self._lifetime = int(settings.session_lifetime.total_seconds())
        self._absolute_lifetime = int(settings.session_absolute_lifetime.total_seconds())
        self._activity_interval = int(settings.session_activity_interval.total_seconds())

    def create_session(
        self,
        user: User,
        *,
        user_agent: str = "",
        ip: str = "",
        two_factor_verified: bool = False,
        reauthenticated_at: int = 0,
        amr: tuple[str, ...] = (),
        replacing: Sequence[str | None] = (),
        writes: Sequence[Write] = (),
        impersonator: Impersonator | None = None,
        absolute_lifetime: int | None = None,
    ) -> tuple[str, Session]:
        """A new session for `user`; returns the token (for the cookie only) and the session.

        In the same write, the sessions of the tokens `replacing` end (a sign-in rotates the
        client's session) and `writes` happen (creating the account, clearing failures): all
        or nothing. An admin's impersonation names the admin, and lives `absolute_lifetime`
        at most.
        """
        token, record = self._new_record(user, user_agent, ip, two_factor_verified)
        record = record._replace(
            reauthenticated_at=reauthenticated_at, amr=amr, auth_time=record.created_at
        )
        if impersonator is not None:
            record = record._replace(
                impersonator_id=impersonator.id, impersonator_email=impersonator.email
            )
        if absolute_lifetime is not None:
            cap = record.created_at + absolute_lifetime
            record = record._replace(
                expires_at=min(record.expires_at, cap),
                absolute_expires_at=min(record.absolute_expires_at, cap),
            )
        together = [self._items.put(record), *writes]
        ended = {d for token in replacing if (d := _digest_if_token(token)) is not None}
        together += [self._items.delete(digest) for digest in sorted(ended)]
        self._store.table.commit(*together)
        return token, _session(record, fresh=True)

    def replace_all_sessions(
        self,
        user: User,
        *,
        presented: str | None,
        acting: bool = False,
        user_agent: str = "",
        ip: str = "",
        two_factor_verified: bool = False,
        reauthenticated_at: int = 0,
        amr: tuple[str, ...] = (),
        auth_time: int | None = None,
        writes: Sequence[Write] = (),
    ) -> tuple[str, Session]:
        """After a change to the account (password, email, verification, second factor): end
        every session of the user (and the presented one, should the index lag) and start one
        new session, with `writes`, atomically. A re-authentication the client gave carries
        over to its new session, as do how and when it signed in (`amr`, `auth_time`: now
        unless given). A change made from the presented session (`acting`) lands only while
        that session lives: one ended meanwhile (signed out, a password changed elsewhere, a
        first proof of the address) fails it, 401."""
        token, record = self._new_record(user, user_agent, ip, two_factor_verified)
        record = record._replace(
            reauthenticated_at=reauthenticated_at,
            amr=amr,
            auth_time=record.created_at if auth_time is None else auth_time,
            rotated=True,
        )
        own, others = self._every_session(user.id, presented, acting)
        self._store.table.commit_with_deletes([*writes, *own, self._items.put(record)], others)
        return token, _session(record, fresh=True)

    def end_all_sessions(
        self,
        user_id: str,
        *,
        presented: str | None,
        acting: bool = False,
        writes: Sequence[Write] = (),
    ) -> None:
        """End every session of the user with `writes`, atomically (deleting the account); as
        `replace_all_sessions`, only while an `acting` presented session lives."""
        own, others = self._every_session(user_id, presented, acting)
        self._store.table.commit_with_deletes([*writes, *own], others)

    def _every_session(
        self, user_id: str, presented: str | None, acting: bool
    ) -> tuple[list[Write], list[Write]]:
        """The presented session's delete (conditional on it living, when it acts), and the
        others' (unconditional: any of them may have ended already)."""
        presented_digest = _digest_if_token(presented)
        digests = {handle.digest for handle in self._items.handles_of_user(user_id)}
        own = []
        if presented_digest is not None:
            digests.discard(presented_digest)
            own = [self._items.delete(presented_digest, living=acting)]
        return own, [self._items.delete(digest) for digest in sorted(digests)]

    def _new_record(
        self, user: User, user_agent: str, ip: str, two_factor_verified: bool
    ) -> tuple[str, SessionRecord]:
        now = self._clock.now()
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        absolute_expires_at = now + self._absolute_lifetime
        record = SessionRecord(
            digest=token_digest(token),
            session_id=secrets.token_urlsafe(12),
            user_id=user.id,
            email=user.email,
            email_verified=user.email_verified,
            two_factor_enabled=user.two_factor_enabled,
            has_password=user.has_password,
            roles=user.roles,
            two_factor_verified=two_factor_verified,
            created_at=now,
            expires_at=min(now + self._lifetime, absolute_expires_at),
            absolute_expires_at=absolute_expires_at,
            last_used_at=now,
            user_agent=user_agent[:_MAX_USER_AGENT],
            ip=ip,
        )
        return token, record

    def validate_session(self, token: str) -> Session | None:
        """The live session for `token`, extended when less than half its lifetime remains.

        One strongly consistent read in steady state. It writes only to extend the session,
        to note its use when `last_used_at` is older than the activity interval, or to delete
        an expired session (DynamoDB's TTL deletes lazily, so expiry is enforced here).
        """
        digest = _digest_if_token(token)
        if digest is None:
            return None
        record = self._items.get(digest)
        if record is None:
            return None
        now = self._clock.now()
        if now >= record.expires_at:
            self._store.table.commit(self._items.delete(digest))
            return None
        expires_at, fresh = record.expires_at, False
        if record.expires_at - now < self._lifetime / 2:
            # Never past the absolute cap: there, the session runs out however active it is.
            extended = min(now + self._lifetime, record.absolute_expires_at)
            if extended > record.expires_at:
                expires_at, fresh = extended, True
        if fresh or now - record.last_used_at >= self._activity_interval:
            touched = self._items.touch(digest, expires_at=expires_at, last_used_at=now)
            if not touched:
                return None  # invalidated between our read and our write
        return _session(record, fresh=fresh, expires_at=expires_at)

    def digest_of(self, token: str | None) -> str | None:
        """The storage key of a well-formed token (None for anything else)."""
        return _digest_if_token(token)

    def invalidate_session(self, token: str) -> Session | None:
        """Delete the session of `token`; returns it if there was one (expired or not)."""
        digest = _digest_if_token(token)
        if digest is None:
            return None
        record = self._items.remove(digest)
        return None if record is None else _session(record, fresh=False)

    def list_sessions(self, user_id: str) -> list[SessionSummary]:
        """The user's live sessions, newest first."""
        now = self._clock.now()
        return [
            SessionSummary(
                id=r.session_id,
                created_at=r.created_at,
                last_used_at=r.last_used_at,
                expires_at=r.expires_at,
                user_agent=r.user_agent,
                ip=r.ip,
                impersonator=_impersonator(r),
            )
            for r in self._items.of_user(user_id)
            if now < r.expires_at
        ]

    def set_roles(self, user_id: str, roles: tuple[str, ...]) -> int:
        """The user's roles changed: every session of theirs carries the new ones from its next
        request on (a protected request reads the session alone). Returns how many."""
        return sum(
            self._items.set_roles(handle.digest, roles)
            for handle in self._items.handles_of_user(user_id)
        )

    def set_org_role(self, user_id: str, org_id: str, role: str | None) -> int:
        """The user's membership of `org_id` changed: every session of theirs working in it
        carries the new role (None: removed, and the session works in no organization) from its
        next request on. Sessions working elsewhere are left as they are. Returns how many."""
        return sum(
            self._items.set_org_role(handle.digest, org_id, role)
            for handle in self._items.handles_of_user(user_id)
        )

    def revoke_session(self, user_id: str, session_id: str) -> bool:
        """Delete one of the user's sessions by its public id; False if the user has none such."""
        for handle in self._items.handles_of_user(user_id):
            if handle.session_id == session_id:
                return self._items.remove(handle.digest) is not None
        return False

    def invalidate_user_sessions(self, user_id: str, *, keep_session_id: str | None = None) -> int:
        """Delete every session of the user (but `keep_session_id`); returns how many."""
        doomed = [
            handle.digest
            for handle in self._items.handles_of_user(user_id)
            if handle.session_id != keep_session_id
        ]
        self._items.delete_many(doomed)
        return len(doomed)


def _digest_if_token(token: str | None) -> str | None:
    """The storage key of a well-formed token; None (and no store call) for anything else."""
    return token_digest(token) if token is not None and _TOKEN_SHAPE.fullmatch(token) else None


def _session(record: SessionRecord, *, fresh: bool, expires_at: int | None = None) -> Session:
    return Session(
        id=record.session_id,
        user=User(
            id=record.user_id,
            email=record.email,
            email_verified=record.email_verified,
            two_factor_enabled=record.two_factor_enabled,
            has_password=record.has_password,
            roles=record.roles,
        ),
        created_at=record.created_at,
        expires_at=record.expires_at if expires_at is None else expires_at,
        fresh=fresh,
        two_factor_verified=record.two_factor_verified,
        reauthenticated_at=record.reauthenticated_at,
        amr=record.amr,
        auth_time=record.auth_time,
        impersonator=_impersonator(record),
        organization=(
            ActiveOrganization(record.org_id, record.org_role) if record.org_id else None
        ),
    )


def _impersonator(record: SessionRecord) -> Impersonator | None:
    if not record.impersonator_id:
        return None
    return Impersonator(record.impersonator_id, record.impersonator_email)
