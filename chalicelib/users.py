"""Accounts: sign-up with a unique email, and password authentication."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from chalicelib.clock import Clock
from chalicelib.errors import InvalidCredentials, InvalidEmail, Unauthenticated
from chalicelib.passwords import MAX_PASSWORD_LENGTH, PasswordHasher, check_password_policy
from chalicelib.store import DynamoStore, UserRecord

# RFC 5321 caps an address at 254 octets; anything far longer is refused before parsing.
_MAX_EMAIL_INPUT = 320


class User(NamedTuple):
    id: str
    email: str


def normalize_email(raw: str) -> str:
    """The canonical form used for uniqueness and login: validated, IDNA-normalised, lower case.

    email-validator is imported here rather than at module level: it pulls in dnspython,
    and a protected request never needs it.
    """
    from email_validator import EmailNotValidError, validate_email

    candidate = raw.strip()
    if not candidate or len(candidate) > _MAX_EMAIL_INPUT:
        raise InvalidEmail()
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidEmail() from None
    # Lower-casing the local part too: mailbox providers treat it case-insensitively, and
    # `Ann@x.io` and `ann@x.io` as two accounts would surprise every user.
    return result.normalized.lower()


def login_key(raw: str) -> str:
    """The email as login throttling counts it: normalised when valid, else trimmed and lower
    case, so an attacker cannot dodge the counter with spelling variants."""
    try:
        return normalize_email(raw)
    except InvalidEmail:
        return raw.strip().lower()[:_MAX_EMAIL_INPUT]


class Accounts:
    def __init__(self, store: DynamoStore, hasher: PasswordHasher, clock: Clock) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock

    def register(self, email: str, password: str) -> UserRecord:
        """A new account, validated and with its password hashed, but not stored yet: it is
        stored together with its first session (SessionManager.create_session(new_user=...))."""
        normalized = normalize_email(email)
        check_password_policy(password)
        return UserRecord(
            user_id=str(uuid.uuid4()),
            email=normalized,
            password_hash=self._hasher.hash(password),
            created_at=self._clock.now(),
        )

    def authenticate(self, email: str, password: str) -> User:
        """The user, or InvalidCredentials; an unknown email costs the same Argon2 work."""
        try:
            normalized = normalize_email(email)
        except InvalidEmail:
            record = None
        else:
            record = self._store.get_user_by_email(normalized)
        if record is None or len(password) > MAX_PASSWORD_LENGTH:
            self._hasher.verify_dummy(password[:MAX_PASSWORD_LENGTH])
            raise InvalidCredentials()
        return self._verify(record, password)

    def check_password(self, user_id: str, password: str) -> User:
        """Re-authentication for sensitive changes: the signed-in user's password, or
        InvalidCredentials."""
        record = self._store.get_user(user_id)
        if record is None:
            raise Unauthenticated()  # the account was deleted under this session
        return self._verify(record, password)

    def new_password_hash(self, password: str) -> str:
        """The hash to store for a new password (stored with SessionManager.replace_all_sessions,
        which ends every session in the same write)."""
        check_password_policy(password)
        return self._hasher.hash(password)

    def delete(self, user: User, session_digests: list[str]) -> None:
        """Delete the account, its email claim and these sessions, atomically."""
        self._store.delete_user(user.id, user.email, session_digests)

    def _verify(self, record: UserRecord, password: str) -> User:
        ok, new_hash = self._hasher.verify(record.password_hash, password)
        if not ok:
            raise InvalidCredentials()
        if new_hash is not None:
            self._store.update_password_hash(record.user_id, new_hash)
        return User(id=record.user_id, email=record.email)
