"""Users: accounts made with a unique email, and their passwords checked."""

from __future__ import annotations

from typing import NamedTuple, NoReturn

from chalicelib.clock import Clock
from chalicelib.errors import InvalidCredentials, InvalidEmail
from chalicelib.ids import new_id
from chalicelib.passwords import MAX_PASSWORD_LENGTH, PasswordHasher, check_password_policy
from chalicelib.store import Store
from chalicelib.store.accounts import Credentials, UserItem, UserRecord
from chalicelib.store.table import Read, Write

HELD_FORMATS_SECONDS = 300  # how long a container trusts its read of the imported formats held

# RFC 5321 caps an address at 254 octets; anything far longer is refused before parsing.
_MAX_EMAIL_INPUT = 320


class User(NamedTuple):
    id: str
    email: str
    email_verified: bool = False
    two_factor_enabled: bool = False
    has_password: bool = True  # False for accounts made by an emailed code (or a provider)
    roles: tuple[str, ...] = ()  # chalicelib.roles; only the admin API changes them
    banned_until: int = 0  # 0: not banned (store.accounts.BANNED_FOREVER: until unbanned)

    def banned(self, now: int) -> bool:
        return now < self.banned_until


UNDELIVERABLE = (
    "We cannot send mail to an address with characters other than plain letters, digits and"
    " punctuation before the @. Use another address."
)


def normalize_email(raw: str, *, deliverable: bool = False) -> str:
    """The canonical form used for uniqueness and login: validated, IDNA-normalised, lower case.
    With `deliverable` (a new account's address, a new address for one), also one Amazon SES
    can send to: its local part is ASCII (SES has no SMTPUTF8; a Unicode domain goes as
    punycode, chalicelib.mail).

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
    if deliverable and not result.local_part.isascii():
        raise InvalidEmail(UNDELIVERABLE)
    # Lower-casing the local part too: mailbox providers treat it case-insensitively, and
    # `Ann@x.io` and `ann@x.io` as two accounts would surprise every user.
    return result.normalized.lower()


class LoginKey(NamedTuple):
    """An email as a login sees it: the key its failures are counted under, and the account's
    email when it is a valid address (None: no account can have it)."""

    key: str
    email: str | None


def login_key(raw: str) -> LoginKey:
    """Normalised when valid, else trimmed and lower case, so an attacker cannot dodge the
    failure counter with spelling variants."""
    try:
        email = normalize_email(raw)
    except InvalidEmail:
        return LoginKey(raw.strip().lower()[:_MAX_EMAIL_INPUT], None)
    return LoginKey(email, email)


def user_of(credentials: Credentials) -> User:
    return User(
        id=credentials.user_id,
        email=credentials.email,
        email_verified=credentials.email_verified,
        two_factor_enabled=credentials.two_factor,
        has_password=credentials.password_hash is not None,
        roles=credentials.roles,
        banned_until=credentials.banned_until,
    )


def user_of_item(item: UserItem) -> User:
    """The user as their own item has it (their address may no longer be a claim's)."""
    return User(
        item.user_id,
        item.email,
        item.email_verified,
        item.two_factor,
        item.has_password,
        roles=item.roles,
        banned_until=0 if item.ban is None else item.ban.until,
    )


class Users:
    def __init__(self, store: Store, hasher: PasswordHasher, clock: Clock) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._held: tuple[str, ...] = ()  # samples of the imported formats the stage holds
        self._held_until = 0

    def register(self, email: str, password_hash: str) -> tuple[User, list[Write]]:
        """A new account for a normalised `email`, unverified, with a password (its hash), as
        the writes that create it: they are committed together with its first session
        (EmailTaken if the email is claimed meanwhile)."""
        return self._new_account(email, password_hash)

    def register_proven(
        self, email: str, *, password_hash: str | None = None
    ) -> tuple[User, list[Write]]:
        """A new account for a normalised `email` that an emailed code just proved: verified,
        with the password a quiet sign-up chose or none, as the writes that create it
        (EmailTaken if claimed meanwhile)."""
        return self._new_account(email, password_hash, verified=True)

    def register_with_identity(
        self, email: str, identity: str, *, verified: bool
    ) -> tuple[User, list[Write]]:
        """A new account, with no password, for a provider's sign-in identity (its id) and the
        normalised `email` it gave (verified only if the provider is trusted to say so)."""
        return self._new_account(email, None, verified=verified, identities=(identity,))

    def _new_account(
        self,
        email: str,
        password_hash: str | None,
        *,
        verified: bool = False,
        identities: tuple[str, ...] = (),
    ) -> tuple[User, list[Write]]:
        record = UserRecord(
            user_id=new_id(),
            email=email,
            email_verified=verified,
            two_factor=False,
            created_at=self._clock.now(),
            has_password=password_hash is not None,
            identities=identities,
        )
        user = User(
            record.user_id, email, email_verified=verified, has_password=record.has_password
        )
        return user, self._store.accounts.create(record, password_hash)

    def credentials(self, email: str) -> Read:
        """The read of what logging in as the normalised `email` needs (None: no account)."""
        return self._store.accounts.claim(email)

    def failure_seconds(self) -> float:
        """How long a failed password check takes, at least, while the stage holds users with
        hashes imported from other systems (0: it holds none): the slowest of their formats'
        verifiers and ours. Then the clock cannot tell an unknown address, an account with our
        hash and one whose imported hash is not yet upgraded apart. The formats held are read
        once per HELD_FORMATS_SECONDS per container; each verifier is timed here once."""
        now = self._clock.now()
        if now >= self._held_until:
            (formats,) = self._store.table.read(self._store.imports.hash_formats())
            held = (formats or {}).values()
            self._held = tuple(sample for count, sample in held if count > 0 and sample)
            self._held_until = now + HELD_FORMATS_SECONDS
        if not self._held:
            return 0.0
        samples = (self._hasher.dummy_hash, *self._held)
        return max(self._hasher.seconds_to_verify(sample) for sample in samples)

    def refuse_unknown(self, password: str) -> NoReturn:
        """InvalidCredentials for an email without an account, after the same Argon2 work as a
        real check, so timing does not tell whether the account exists."""
        self._hasher.verify_dummy(password[:MAX_PASSWORD_LENGTH])
        raise InvalidCredentials()

    def verify(self, credentials: Credentials, password: str) -> tuple[User, str | None]:
        """The user whose password this is, or InvalidCredentials. Also the hash a success owes
        when the stored one is outdated or imported: today's Argon2id of the same password
        (like Django's check_password with its setter; store.accounts.after_password)."""
        if len(password) > MAX_PASSWORD_LENGTH or credentials.password_hash is None:
            # An account without a password: the same work and answer as a wrong one.
            self.refuse_unknown(password)
        ok, new_hash = self._hasher.verify(credentials.password_hash, password)
        if not ok:
            raise InvalidCredentials()
        return user_of(credentials), new_hash

    def authenticate(self, email: str, password: str) -> tuple[User, str | None]:
        """`verify` for a raw email, reading its claim (one GetItem)."""
        try:
            normalized = normalize_email(email)
        except InvalidEmail:
            credentials = None
        else:
            (credentials,) = self._store.table.read(self.credentials(normalized))
        if credentials is None:
            self.refuse_unknown(password)
        return self.verify(credentials, password)

    def hash_of_migrated(self, password: str) -> str:
        """Our hash of a password the old system just vouched for (chalicelib.migration): kept
        as it was, even below today's policy, since it is the user's own already."""
        return self._hasher.hash(password)

    def new_password_hash(self, password: str) -> str:
        """The hash to store for a new password that meets the policy."""
        check_password_policy(password)
        return self._hasher.hash(password)

    def delete(self, user: User, orgs: frozenset[str] | None = None) -> list[Write]:
        """The writes that delete the account and its email claim, freeing the email (with
        `orgs`: only while it belongs to exactly those organizations)."""
        return self._store.accounts.delete(user.id, user.email, orgs)
