"""Users brought from another system: one line of our import format checked (`parse`) and turned
into the one all-or-nothing transaction that creates the user (`writes`). devtools.users reads
the files, decrypts what an export encrypted, commits, and reports; nothing here touches a file.

The format (docs/migration.md), one JSON object per line:
`{"email", "email_verified", "created_at", "password": {"format", "hash", "params"} | null,
"totp_secret": base32 | null, "identities": [{"issuer", "subject"}], "passkeys":
[{"credential_id", "public_key", "sign_count", "rp_id", "name"?, "created_at"?}], "roles",
"source_id", "webauthn_handle"?}`. Only `email` and `source_id` are required.

A line is hostile until checked: every field's type, size and characters are, and a reason for
refusing names the field alone, never a hash, a secret or a key.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from chalicelib import password_formats, totp
from chalicelib.config import Settings
from chalicelib.errors import InvalidEmail
from chalicelib.ids import new_id
from chalicelib.keyring import Keyring
from chalicelib.passwords import is_imported
from chalicelib.roles import MAX_ROLES, ROLES_GRANT, Roles, is_role_name, normalize_roles
from chalicelib.store import Store
from chalicelib.store.accounts import Imported, UserRecord
from chalicelib.store.identities import MAX_IDENTITIES, IdentityRecord, identity_id
from chalicelib.store.passkeys import MAX_PASSKEYS, PasskeyRecord
from chalicelib.store.table import Write
from chalicelib.users import UNDELIVERABLE, normalize_email
from chalicelib.webauthn_rp import RelyingParty

FIELDS = frozenset(
    {
        "email",
        "email_verified",
        "created_at",
        "password",
        "totp_secret",
        "identities",
        "passkeys",
        "roles",
        "source_id",
        "webauthn_handle",
    }
)
MAX_TEXT = 1024  # a source id, an issuer or a subject
MAX_HASH = 4096
MAX_PARAMS = 16  # a password's params: flat, scalar values
MAX_LISTED = 100  # entries read of a list, before any limit of what is kept
MAX_CREDENTIAL_ID_BYTES = 1023  # WebAuthn's own limit
MAX_PUBLIC_KEY_BYTES = 2048  # a COSE key: an RSA-4096 one is about 550 bytes
MAX_HANDLE_BYTES = 64  # WebAuthn's user.id
MAX_PASSKEY_NAME = 64  # as a passkey's name at registration (flows.passkeys)
LATEST_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z
NO_AAGUID = "00000000-0000-0000-0000-000000000000"  # not known: the origin kept none
_FORMAT_NAME = re.compile(r"[a-z0-9_]{1,40}")
_BASE32 = re.compile(r"[A-Z2-7]{16,128}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_REFUSED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # in names and ids: control, format
# A hash string's fields that set its cost (cost_key): a number (bcrypt's cost, PBKDF2's
# iterations, Django scrypt's N), `k=v` lists (Argon2's m,t,p, scrypt's ln,r,p), or a short
# algorithm name that is no hex (pbkdf2_sha256, argon2id); salts and digests are none of these.
_COST_FIELD = re.compile(r"\d{1,10}|[a-z]{1,4}=\d{1,10}(,[a-z]{1,4}=\d{1,10})*")
_ALGORITHM = re.compile(r"[a-z][a-z0-9_-]{1,13}")
_HEX = re.compile(r"[0-9a-f]+")


class Rejected(ValueError):
    """A line that cannot be imported; `reason` is fit for the report (a field's name, a format's
    name, never a value that could be a hash, a secret or a key)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImportedIdentity(NamedTuple):
    issuer: str
    subject: str
    provider: str  # the stage's provider of that issuer; the issuer itself when none is


class ImportedPasskey(NamedTuple):
    credential_id: str  # base64url, unpadded, as registration stores it
    public_key: bytes  # COSE
    sign_count: int
    name: str
    created_at: int


class ImportedUser(NamedTuple):
    email: str  # normalised
    email_verified: bool
    created_at: int
    password: str | None  # the stored form (password_formats); None: no password
    totp_secret: str | None  # base32, in clear until `writes` encrypts it
    identities: tuple[ImportedIdentity, ...]
    passkeys: tuple[ImportedPasskey, ...]  # those of this stage's RP ID
    roles: tuple[str, ...]
    source_id: str
    webauthn_handle: str | None  # base64url: the origin's, which its passkeys' assertions name
    grants_roles: bool  # a role gives `roles:grant` (store.granters)
    dropped_passkeys: int = 0  # of another RP ID: useless here, left out (reported)

    @property
    def two_factor(self) -> bool:
        return self.totp_secret is not None or bool(self.passkeys)

    @property
    def password_format(self) -> str | None:
        """The imported format its password is in (None: none, or our own Argon2id)."""
        if self.password is None or not is_imported(self.password):
            return None
        return password_formats.describe(self.password)[0]


def rp_id(settings: Settings) -> str | None:
    """The stage's WebAuthn RP ID, as its passkey routes have it (None: the stage has no
    PUBLIC_ORIGIN, so no passkey signs in there)."""
    if settings.public_origin is None:
        return None
    return RelyingParty.of(settings.public_origin, settings.mail_sender_name).id or None


def parse(obj: Any, *, settings: Settings, now: int) -> ImportedUser:
    """One line of the format, checked whole (Rejected with the first reason found)."""
    if not isinstance(obj, dict):
        raise Rejected("not a JSON object")
    unknown = sorted(k for k in obj if k not in FIELDS)
    if unknown:
        name = unknown[0]
        shown = repr(name) if _FORMAT_NAME.fullmatch(name) else "(unreadable)"
        raise Rejected(f"unknown field {shown}")
    if "email" not in obj:
        raise Rejected("email: missing")
    if "source_id" not in obj:
        raise Rejected("source_id: missing")
    email = _email(obj["email"])
    source_id = _text(obj["source_id"], "source_id", MAX_TEXT)
    verified = obj.get("email_verified", False)
    if not isinstance(verified, bool):
        raise Rejected("email_verified: not true or false")
    created_at = _time(obj.get("created_at"), "created_at", now)
    roles = _roles(obj.get("roles"), settings)
    passkeys, dropped = _passkeys(obj.get("passkeys"), settings, now)
    return ImportedUser(
        email=email,
        email_verified=verified,
        created_at=created_at,
        password=_password(obj.get("password")),
        totp_secret=_totp_secret(obj.get("totp_secret")),
        identities=_identities(obj.get("identities"), settings),
        passkeys=passkeys,
        roles=roles,
        source_id=source_id,
        webauthn_handle=_handle(obj.get("webauthn_handle")),
        grants_roles=Roles(dict(settings.roles)).grants(roles, ROLES_GRANT),
        dropped_passkeys=dropped,
    )


def writes(
    store: Store,
    user: ImportedUser,
    keyring: Keyring | None,
    now: int,
    *,
    user_id: str | None = None,
) -> list[Write]:
    """The one transaction that creates `user` under a new id (`user_id` when given): the
    source id's claim first (an earlier import's: AlreadyImported), the email's (EmailTaken),
    the user item with its search index fields, its identities (IdentityTaken) and passkeys
    (PasskeyExists), and its place among those who grant roles. At most 3 + 20 + 10 + 1
    items: within one transaction."""
    user_id = user_id or new_id()
    sealed = None
    if user.totp_secret is not None:
        if keyring is None:
            raise ValueError("an authenticator app's secret needs the stage's keyring")
        sealed = keyring.encrypt(user.totp_secret, totp.secret_context(user_id))
    identities = [
        IdentityRecord(
            id=identity_id(identity.issuer, identity.subject),
            user_id=user_id,
            provider=identity.provider,
            issuer=identity.issuer,
            subject=identity.subject,
            email=user.email,
            created_at=now,
            last_used_at=now,
        )
        for identity in user.identities
    ]
    record = UserRecord(
        user_id=user_id,
        email=user.email,
        email_verified=user.email_verified,
        two_factor=user.two_factor,
        created_at=user.created_at,
        has_password=user.password is not None,
        identities=tuple(i.id for i in identities),
    )
    extra = Imported(
        source_id=user.source_id,
        roles=user.roles,
        passkeys=tuple(p.credential_id for p in user.passkeys),
        webauthn_handle=user.webauthn_handle,
        totp_secret=sealed,
    )
    result = [
        store.imports.claim_source(user.source_id, user_id, now),
        *store.accounts.imported(record, user.password, extra),
        *(store.identities.put_new(identity) for identity in identities),
        *(
            store.passkeys.put_new(
                PasskeyRecord(
                    credential_id=passkey.credential_id,
                    user_id=user_id,
                    public_key=passkey.public_key,
                    sign_count=passkey.sign_count,
                    transports=[],
                    device_type="single_device",  # not known: the cautious answer
                    backed_up=False,
                    aaguid=NO_AAGUID,
                    name=passkey.name,
                    created_at=passkey.created_at,
                    last_used_at=passkey.created_at,
                )
            )
            for passkey in user.passkeys
        ),
    ]
    if user.grants_roles:
        result.append(store.granters.add(user_id))
    return result


# -- the sign-in timing pad: the slowest cost of each imported format -------------------------


def cost_key(stored: str) -> tuple[str, str, str]:
    """What sets a stored hash's verify time, without knowing each format: the format, the
    fields of its hash string that set a cost (_COST_FIELD, _ALGORITHM), and its params' numbers
    and version (Firebase's rounds and memory cost, Lucia's version). Two hashes of one key
    verify alike; a key too fine costs a measurement more, never a wrong pad."""
    format, hashed, params = password_formats.describe(stored)
    fields = [
        field
        for field in re.split(r"[$:]", hashed)
        if _COST_FIELD.fullmatch(field)
        or (_ALGORITHM.fullmatch(field) and not _HEX.fullmatch(field))
    ]
    numbers = sorted(
        f"{k}={v}"
        for k, v in params.items()
        if (isinstance(v, int) and not isinstance(v, bool)) or k == "version"
    )
    return format, "$".join(fields), ",".join(numbers)


def verify_seconds(stored: str) -> float:
    """How long a wrong password takes against `stored` (the faster of two tries)."""
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        password_formats.verify(stored, "a wrong password for timing")
        best = min(best, time.perf_counter() - started)
    return best


class FormatTally:
    """An import run's imported password formats: how many accounts it brought of each, and one
    stored hash per distinct cost, so the run ends by recording the slowest of each (once per
    run: store.imports' HASHFORMATS)."""

    MAX_COSTS = 32  # distinct costs kept per format: real imports have one or a few

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._costs: dict[str, dict[tuple[str, str, str], str]] = {}

    def note(self, user: ImportedUser) -> None:
        """`user` was imported."""
        format = user.password_format
        if format is None or user.password is None:
            return
        self.counts[format] = self.counts.get(format, 0) + 1
        costs = self._costs.setdefault(format, {})
        if len(costs) < self.MAX_COSTS:
            costs.setdefault(cost_key(user.password), user.password)

    def samples(
        self,
        recorded: Mapping[str, tuple[int, str | None]],
        measure: Callable[[str], float] = verify_seconds,
    ) -> dict[str, str]:
        """Per format this run brought, the sample to record: the slowest of its costs and of
        the sample `recorded` before, timed when there is more than one (a sample keeps its
        cost: password_formats.sample)."""
        chosen: dict[str, str] = {}
        for format, costs in self._costs.items():
            previous = recorded.get(format, (0, None))[1]
            candidates = list(costs.values())
            if previous is not None and cost_key(previous) not in costs:
                candidates.append(previous)
            slowest = candidates[0] if len(candidates) == 1 else max(candidates, key=measure)
            if slowest == previous:
                chosen[format] = previous
            elif previous is not None and cost_key(previous) == cost_key(slowest):
                chosen[format] = previous  # the same cost: no new sample needed
            else:
                chosen[format] = password_formats.sample(slowest)
        return chosen


# -- the fields ----------------------------------------------------------------------------------


def _text(value: Any, field: str, limit: int, *, empty: bool = False) -> str:
    """A string of at most `limit` characters (empty only if `empty`), no control or format
    character, that UTF-8 can carry (a lone surrogate cannot, and DynamoDB would refuse it)."""
    if not isinstance(value, str):
        raise Rejected(f"{field}: not a string")
    if (not value and not empty) or len(value) > limit:
        raise Rejected(f"{field}: empty or longer than {limit} characters")
    if any(unicodedata.category(c) in _REFUSED for c in value):
        raise Rejected(f"{field}: holds control characters")
    return value


def _email(value: Any) -> str:
    raw = _text(value, "email", 320)
    try:
        # Deliverable, as a new account's address must be: our mail reaches it (codes, resets).
        return normalize_email(raw, deliverable=True)
    except InvalidEmail as error:
        if error.message == UNDELIVERABLE:
            reason = "email: its part before the @ is not ASCII (SES cannot send there)"
        else:
            reason = "email: not a valid address"
        raise Rejected(reason) from None


def _time(value: Any, field: str, now: int) -> int:
    """Seconds since 1970, or an ISO 8601 date and time (UTC when it names no offset)."""
    if value is None:
        return now
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise Rejected(f"{field}: neither seconds nor an ISO 8601 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = int(moment.timestamp())
    else:
        raise Rejected(f"{field}: neither seconds nor an ISO 8601 time")
    if seconds > now + 86_400 and 10**11 <= seconds <= (now + 86_400) * 1000:
        raise Rejected(f"{field}: in the future (milliseconds? give seconds)")
    if not 0 <= seconds <= min(now + 86_400, LATEST_TIME):
        raise Rejected(f"{field}: not a time in the past")
    return seconds


def _roles(value: Any, settings: Settings) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_LISTED:
        raise Rejected("roles: not a list of role names")
    known = Roles(dict(settings.roles))
    for role in value:
        if not isinstance(role, str) or not is_role_name(role):
            raise Rejected("roles: not a list of role names")
        if not known.known(role):
            raise Rejected(f"unknown role {role!r}")
    roles = normalize_roles(value)
    if len(roles) > MAX_ROLES:
        raise Rejected(f"roles: more than {MAX_ROLES}")
    return roles


def _password(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Rejected("password: not an object of format, hash and params")
    if "age" in value:
        raise Rejected("password: encrypted to an age recipient (import with --identity)")
    if not set(value) <= {"format", "hash", "params"} or "format" not in value:
        raise Rejected("password: not an object of format, hash and params")
    format = value["format"]
    if not isinstance(format, str) or not _FORMAT_NAME.fullmatch(format):
        raise Rejected("password.format: not a format name")
    hashed = _text(value.get("hash"), "password.hash", MAX_HASH)
    params = value.get("params")
    if params is not None:
        if not isinstance(params, dict) or len(params) > MAX_PARAMS:
            raise Rejected("password.params: not an object of a few values")
        for key, item in params.items():
            if not isinstance(key, str) or not _FORMAT_NAME.fullmatch(key):
                raise Rejected("password.params: not an object of a few values")
            if isinstance(item, str):
                _text(item, f"password.params.{key}", MAX_HASH, empty=True)  # no salt: ""
            elif item is not None and not isinstance(item, int | float | bool):
                raise Rejected(f"password.params.{key}: not a string or a number")
    try:
        return password_formats.stored_form(format, hashed, params)
    except password_formats.FormatError as error:
        raise Rejected(str(error)) from None  # its message names the format, never the hash
    except (ValueError, TypeError, OverflowError):
        raise Rejected(f"password: not a valid {format} hash") from None


def _totp_secret(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict) and "age" in value:
        raise Rejected("totp_secret: encrypted to an age recipient (import with --identity)")
    if not isinstance(value, str) or len(value) > 256:
        raise Rejected("totp_secret: not a base32 string")
    secret = value.replace(" ", "").upper().rstrip("=")
    if not _BASE32.fullmatch(secret):
        raise Rejected("totp_secret: not a base32 secret of 16 to 128 characters")
    try:
        base64.b32decode(secret + "=" * (-len(secret) % 8))
    except binascii.Error:
        raise Rejected("totp_secret: not a base32 secret of 16 to 128 characters") from None
    return secret


def _identities(value: Any, settings: Settings) -> tuple[ImportedIdentity, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_LISTED:
        raise Rejected("identities: not a list")
    providers = {p.issuer: p.id for p in settings.oauth_providers}
    found: dict[str, ImportedIdentity] = {}
    for index, entry in enumerate(value):
        field = f"identities[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"issuer", "subject"}:
            raise Rejected(f"{field}: not an object of issuer and subject")
        issuer = _text(entry["issuer"], f"{field}.issuer", MAX_TEXT)
        subject = _text(entry["subject"], f"{field}.subject", MAX_TEXT)
        key = identity_id(issuer, subject)
        if key in found:
            raise Rejected(f"{field}: listed twice")
        found[key] = ImportedIdentity(issuer, subject, providers.get(issuer, issuer))
    if len(found) > MAX_IDENTITIES:
        raise Rejected(f"identities: more than {MAX_IDENTITIES}")
    return tuple(found.values())


_PASSKEY_FIELDS = frozenset(
    {"credential_id", "public_key", "sign_count", "rp_id", "name", "created_at"}
)


def _passkeys(value: Any, settings: Settings, now: int) -> tuple[tuple[ImportedPasskey, ...], int]:
    """The passkeys of this stage's RP ID, and how many others were left out: a credential is
    bound to its RP ID, and one of another can never sign in here."""
    if value is None:
        return (), 0
    if not isinstance(value, list) or len(value) > MAX_LISTED:
        raise Rejected("passkeys: not a list")
    ours = rp_id(settings)
    kept: dict[str, ImportedPasskey] = {}
    dropped = 0
    for index, entry in enumerate(value):
        field = f"passkeys[{index}]"
        required = {"credential_id", "public_key", "sign_count", "rp_id"}
        if not isinstance(entry, dict) or not required <= set(entry) <= _PASSKEY_FIELDS:
            raise Rejected(f"{field}: not an object of credential_id, public_key, sign_count...")
        credential = _base64url(entry["credential_id"], f"{field}.credential_id")
        if not 1 <= len(credential) <= MAX_CREDENTIAL_ID_BYTES:
            raise Rejected(f"{field}.credential_id: empty or too long")
        public_key = _base64url(entry["public_key"], f"{field}.public_key")
        if not 1 <= len(public_key) <= MAX_PUBLIC_KEY_BYTES:
            raise Rejected(f"{field}.public_key: empty or too long")
        count = entry["sign_count"]
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count < 2**32:
            raise Rejected(f"{field}.sign_count: not a count")
        rp = _text(entry["rp_id"], f"{field}.rp_id", 253)
        name = entry.get("name")
        if isinstance(name, str):
            name = name.strip()
        name = _text(name, f"{field}.name", MAX_PASSKEY_NAME) if name is not None else "Passkey"
        created_at = _time(entry.get("created_at"), f"{field}.created_at", now)
        if ours is None or rp.lower() != ours:
            dropped += 1
            continue
        credential_id = base64.urlsafe_b64encode(credential).decode().rstrip("=")
        if credential_id in kept:
            raise Rejected(f"{field}: listed twice")
        kept[credential_id] = ImportedPasskey(credential_id, public_key, count, name, created_at)
    if len(kept) > MAX_PASSKEYS:
        raise Rejected(f"passkeys: more than {MAX_PASSKEYS} for this RP ID")
    return tuple(kept.values()), dropped


def _handle(value: Any) -> str | None:
    if value is None:
        return None
    raw = _base64url(value, "webauthn_handle")
    if not 1 <= len(raw) <= MAX_HANDLE_BYTES:
        raise Rejected("webauthn_handle: empty or longer than 64 bytes")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _base64url(value: Any, field: str) -> bytes:
    if not isinstance(value, str) or len(value) > 4 * MAX_PUBLIC_KEY_BYTES:
        raise Rejected(f"{field}: not base64url")
    if not _BASE64URL.fullmatch(value):
        raise Rejected(f"{field}: not base64url")
    bare = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except (binascii.Error, ValueError):
        raise Rejected(f"{field}: not base64url") from None
