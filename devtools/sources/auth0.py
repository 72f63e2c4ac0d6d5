"""Auth0: the bulk user export, with password hashes in the import schema's shape, and the
password hash export Auth0 support hands out.

Docs:
- https://auth0.com/docs/manage-users/user-migration/bulk-user-exports
  (the export job: JSON Lines of user_id, email, email_verified, created_at, identities[])
- https://auth0.com/docs/manage-users/user-migration/bulk-user-import-database-schema-and-examples
  (`custom_password_hash` {algorithm, hash {value, encoding}, salt {value, encoding, position},
  password {encoding}}; `password_hash`, bcrypt)
- https://community.auth0.com/t/how-to-use-the-password-hashes-export-from-auth0/58730
  (the support export: JSON Lines of _id.$oid, alt_id, email, email_verified, passwordHash,
  connection; the user's id is `auth0|<alt_id or _id.$oid>`)

The input is JSON Lines or one JSON array of either kind of record: the export job's
JSON-compatible format (its CSV format, with OWASP's quote escaping, is not read).
`--passwords FILE` adds the support export's hashes to a bulk export's users, matched by user id
(`auth0|...`): the bulk export carries their identities and creation dates, the support export
only the hashes.

Mapping:
- `user_id` is the source_id; `blocked` users are rejected (our format has no disabled state,
  and importing them would let them in again).
- Identities: Auth0's `auth0` connection is the password itself, `email`/`sms` are passwordless
  (an emailed code here); the social providers below become {issuer, subject}, the provider's
  own user id being the subject. Other connections (enterprise, `windowslive` whose id is not
  Microsoft's OIDC subject, Facebook, Twitter...) are dropped unless `--issuers` names them.
- custom_password_hash: bcrypt, argon2 and pbkdf2 (a PHC string) pass through; md5, sha1,
  sha256 and sha512 become salted digests with their salt, position and encodings. hmac, ldap,
  md4 and Auth0's scrypt have no format here, and a password encoding other than utf8/ascii
  (utf16le, latin1...) would verify differently: those users are rejected, naming it.
- Names, metadata, phone numbers and app_metadata roles are not carried (roles are granted
  here through the admin API).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from devtools.sources import SourceError, SourceLine
from devtools.sources._common import (
    APPLE,
    GITHUB,
    GOOGLE,
    Reject,
    digest_params,
    first_character,
    flag,
    get,
    identifier,
    identity,
    issuers,
    items,
    json_lines,
    lines,
    load_json,
    name,
    obj,
    password,
    password_string,
    required,
    seconds,
    text,
    user,
)

OPTIONS = ("passwords", "issuers")

ISSUERS = {"google-oauth2": GOOGLE, "github": GITHUB, "apple": APPLE}
_NOT_IDENTITIES = {"auth0", "email", "sms"}  # the password, and Auth0's passwordless codes
_DIGESTS = ("md5", "sha1", "sha256", "sha512")
_PASSWORD_ENCODINGS = ("utf8", "utf-8", "ascii")  # ascii is utf8 for the passwords it allows


def read(path: Path, options: Mapping[str, str]) -> Iterator[SourceLine]:
    mapping = issuers(ISSUERS, options.get("issuers"))
    hashes = _support_hashes(Path(options["passwords"])) if "passwords" in options else {}
    records = _records(path)
    return lines(records, lambda record: _user(obj(record, "the line"), mapping, hashes))


def _records(path: Path) -> Iterator[tuple[int, object]]:
    start = first_character(path)
    if start == "[":
        array = load_json(path)
        if not isinstance(array, list):
            raise SourceError(f"{path} is not a JSON array of users")
        return enumerate(array, start=1)
    if start == "{":
        return json_lines(path)
    raise SourceError(f"{path} is neither JSON Lines nor a JSON array of Auth0 users")


def _support_hashes(path: Path) -> dict[str, str]:
    """user_id -> passwordHash from the support export. Its malformed lines are skipped: their
    users come across without a password (they can reset it), never with someone else's."""
    found: dict[str, str] = {}
    for _number, record in _records(path):
        try:
            record = obj(record, "the line")
            hashed = text(record.get("passwordHash"), "passwordHash")
            if hashed:
                found[_support_id(record)] = hashed
        except Reject:
            continue
    return found


def _support_id(record: Mapping) -> str:
    alt_id = text(record.get("alt_id"), "alt_id")
    oid = required(obj(record.get("_id"), "_id").get("$oid"), "_id.$oid")
    return f"auth0|{alt_id or oid}"


def _user(record: Mapping, mapping: Mapping[str, str], hashes: Mapping[str, str]) -> dict:
    if "_id" in record:
        return _support_user(record)
    if flag(record.get("blocked"), "blocked"):
        raise Reject("blocked in Auth0: not imported, as it would be allowed in again")
    source_id = identifier(record.get("user_id"), "user_id")
    email = required(record.get("email"), "email")
    found: dict | None = None
    if record.get("custom_password_hash") is not None:
        found = _custom_hash(obj(record["custom_password_hash"], "custom_password_hash"))
    elif record.get("password_hash") is not None:
        found = password_string(required(record["password_hash"], "password_hash"), "password_hash")
    elif source_id in hashes:
        found = password_string(hashes[source_id], "passwordHash (--passwords)")
    return user(
        email=email,
        email_verified=flag(record.get("email_verified"), "email_verified"),
        created_at=seconds(record.get("created_at"), "created_at"),
        password=found,
        identities=_identities(record, source_id, mapping),
        source_id=source_id,
    )


def _identities(record: Mapping, source_id: str, mapping: Mapping[str, str]) -> list[dict]:
    pairs: list[tuple[object, object]] = []
    for index, entry in enumerate(items(record.get("identities"), "identities")):
        entry = obj(entry, f"identities[{index}]")
        pairs.append((entry.get("provider"), entry.get("user_id")))
    if not pairs:  # an export without the identities field: the user id names its provider
        provider, _, subject = source_id.partition("|")
        pairs.append((provider, subject))
    found = []
    for provider, subject in pairs:
        if isinstance(provider, str) and provider in _NOT_IDENTITIES:
            continue
        linked = identity(mapping, provider, subject)
        if linked:
            found.append(linked)
    return found


def _support_user(record: Mapping) -> dict:
    """A line of the support export. It has no creation date; an email missing at its root is
    in `identifiers`."""
    emails = [
        obj(entry, "identifiers[]")
        for entry in items(record.get("identifiers"), "identifiers")
        if isinstance(entry, dict) and entry.get("type") == "email"
    ]
    email = text(record.get("email"), "email")
    verified = record.get("email_verified")
    if email is None and emails:
        email, verified = (
            text(emails[0].get("value"), "identifiers[].value"),
            emails[0].get("verified"),
        )
    hashed = text(record.get("passwordHash"), "passwordHash")
    return user(
        email=required(email, "email"),
        email_verified=flag(verified, "email_verified"),
        created_at=None,
        password=password_string(hashed, "passwordHash") if hashed else None,
        source_id=_support_id(record),
    )


def _custom_hash(spec: Mapping) -> dict:
    algorithm = required(spec.get("algorithm"), "custom_password_hash.algorithm")
    hashed = obj(spec.get("hash"), "custom_password_hash.hash")
    value = required(hashed.get("value"), "custom_password_hash.hash.value")
    if algorithm in ("bcrypt", "argon2", "pbkdf2"):
        return password(algorithm, value)
    if algorithm not in _DIGESTS:
        raise Reject(f"Auth0 password algorithm {name(algorithm)} is not supported")
    encoding = get(obj(spec.get("password") or {}, "custom_password_hash.password"), "encoding")
    if encoding is not None and encoding not in _PASSWORD_ENCODINGS:
        raise Reject(f"Auth0 password encoding {name(encoding)} is not supported")
    hash_encoding = _choice(hashed.get("encoding"), ("hex", "base64"), "hex", "hash encoding")
    salt = spec.get("salt")
    if salt is None:
        return password(algorithm, value, digest_params(hash_encoding=hash_encoding))
    salt = obj(salt, "custom_password_hash.salt")
    return password(
        algorithm,
        value,
        digest_params(
            salt=required(salt.get("value"), "custom_password_hash.salt.value"),
            position=_choice(salt.get("position"), ("prefix", "suffix"), "prefix", "salt position"),
            salt_encoding=_choice(
                salt.get("encoding"), ("utf8", "hex", "base64"), "utf8", "salt encoding"
            ),
            hash_encoding=hash_encoding,
        ),
    )


def _choice(value: object, allowed: tuple[str, ...], default: str, what: str) -> str:
    if value is None:
        return default
    if value == "utf-8" and "utf8" in allowed:
        return "utf8"
    if value not in allowed:
        raise Reject(f"Auth0 {what} {name(value)} is not supported (one of {', '.join(allowed)})")
    return value
