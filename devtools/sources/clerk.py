"""Clerk: the Dashboard's CSV export (Settings > User exports), the one Clerk export with password
digests and TOTP secrets.

Docs:
- https://clerk.com/docs/guides/development/migrating/export-from-clerk (the CSV export; its
  columns: id, first_name, last_name, username, primary_email_address, primary_phone_number,
  verified_email_addresses, unverified_email_addresses, verified_phone_numbers,
  unverified_phone_numbers, totp_secret, password_digest, password_hasher)
- https://clerk.com/docs/reference/backend-api/tag/Users#operation/CreateUser (`password_hasher`
  and the digest each hasher expects)
- clerk/migration-tool (samples/clerk.csv; lists in a cell are separated by "," or "|")

Mapping:
- id is the source_id; the primary email (else the first verified, else the first unverified
  address) is the email, verified when it is among verified_email_addresses.
- totp_secret is carried (base32, as Clerk takes and gives it).
- password_hasher -> our format: bcrypt; argon2i and argon2id -> argon2;
  pbkdf2_sha256_django and bcrypt_sha256_django -> django (Django's own strings);
  pbkdf2_sha256 (base64 salt and hash) and pbkdf2_sha1 (raw salt, hex hash) -> pbkdf2 as a PHC
  string `$pbkdf2-<digest>$i=<iterations>,l=<bytes>$<salt>$<hash>` (standard base64 without
  padding, Auth0's form); scrypt_firebase (`hash$salt$signer_key$salt_separator$rounds$mem_cost`)
  -> firebase_scrypt; md5 and sha256 (unsalted hex) -> md5 and sha256 with an empty salt.
  Any other hasher (phpass, scrypt_werkzeug, ldap_ssha, sha512_symfony, md5_salted, ...) rejects
  the line, naming it.
- Not carried: names, username, phone numbers (no phone sign-in here), and the created_at
  column when an export lacks it (then created_at is null).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from devtools.sources import SourceLine
from devtools.sources._common import (
    Reject,
    csv_rows,
    digest_params,
    firebase_scrypt,
    identifier,
    lines,
    name,
    obj,
    password,
    seconds,
    text,
    user,
)

OPTIONS: tuple[str, ...] = ()

_REQUIRED = ("id", "primary_email_address")
_BASE32 = re.compile(r"[A-Za-z2-7]+=*")


def read(path: Path, options: Mapping[str, str]) -> Iterator[SourceLine]:
    _header, rows = csv_rows(path, _REQUIRED)
    return lines(rows, _user)


def _user(record: object) -> dict:
    row = obj(record, "the row")
    source_id = identifier(row["id"].strip(), "id")
    verified = _addresses(row.get("verified_email_addresses", ""))
    unverified = _addresses(row.get("unverified_email_addresses", ""))
    email = row["primary_email_address"].strip() or next(iter(verified + unverified), "")
    if not email:
        raise Reject("no email address")
    totp_secret = text(row.get("totp_secret", "").strip(), "totp_secret")
    if totp_secret is not None and not _BASE32.fullmatch(totp_secret):
        raise Reject("totp_secret is not base32")
    return user(
        email=email,
        email_verified=email.lower() in {address.lower() for address in verified},
        created_at=seconds(row.get("created_at", "").strip(), "created_at"),
        password=_password(row.get("password_digest", ""), row.get("password_hasher", "")),
        totp_secret=totp_secret,
        source_id=source_id,
    )


def _addresses(cell: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,|]", cell) if part.strip()]


def _password(digest: str, hasher: str) -> dict | None:
    digest, hasher = digest.strip(), hasher.strip()
    if not digest:
        return None
    if not hasher:
        raise Reject("password_digest without a password_hasher")
    convert = _HASHERS.get(hasher)
    if convert is None:
        raise Reject(f"password hasher {name(hasher)} is not supported")
    return convert(digest)


def _pbkdf2_sha256(digest: str) -> dict:
    """Clerk's `pbkdf2_sha256$<iterations>$<base64 salt>$<base64 hash>`."""
    parts = digest.split("$")
    if len(parts) != 4 or parts[0] != "pbkdf2_sha256":
        raise Reject("pbkdf2_sha256 digest is not pbkdf2_sha256$iterations$salt$hash")
    return _phc("sha256", parts[1], _b64(parts[2], "salt"), _b64(parts[3], "hash"))


def _pbkdf2_sha1(digest: str) -> dict:
    """Clerk's `pbkdf2_sha1$<iterations>$<salt, as is>$<hex hash>` (a key length may follow)."""
    parts = digest.split("$")
    if len(parts) not in (4, 5) or parts[0] != "pbkdf2_sha1":
        raise Reject("pbkdf2_sha1 digest is not pbkdf2_sha1$iterations$salt$hexhash")
    try:
        hashed = bytes.fromhex(parts[3])
    except ValueError:
        raise Reject("pbkdf2_sha1 digest's hash is not hex") from None
    if len(parts) == 5 and parts[4] != str(len(hashed)):
        raise Reject("pbkdf2_sha1 digest's key length does not match its hash")
    return _phc("sha1", parts[1], parts[2].encode(), hashed)


def _phc(digest: str, iterations: str, salt: bytes, hashed: bytes) -> dict:
    if not re.fullmatch(r"[1-9]\d{0,9}", iterations) or not salt or not hashed:
        raise Reject(f"pbkdf2_{digest} digest has no iterations, salt or hash")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode().rstrip("=")

    return password(
        "pbkdf2", f"$pbkdf2-{digest}$i={iterations},l={len(hashed)}${b64(salt)}${b64(hashed)}"
    )


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise Reject(f"pbkdf2_sha256 digest's {what} is not base64") from None


def _firebase(digest: str) -> dict:
    parts = digest.split("$")
    if len(parts) != 6:
        raise Reject(
            "scrypt_firebase digest is not hash$salt$signer_key$salt_separator$rounds$mem_cost"
        )
    hashed, salt, signer_key, separator, rounds, mem_cost = parts
    return firebase_scrypt(
        hashed, salt, signer_key, separator, rounds, mem_cost, "scrypt_firebase digest"
    )


def _hex_digest(format: str, length: int) -> Callable[[str], dict]:
    def convert(digest: str) -> dict:
        if not re.fullmatch(f"[0-9a-fA-F]{{{length}}}", digest):
            raise Reject(f"{format} digest is not {length} hex digits")
        return password(format, digest.lower(), digest_params(hash_encoding="hex"))

    return convert


_HASHERS: dict[str, Callable[[str], dict]] = {
    "bcrypt": lambda digest: password("bcrypt", digest),
    "argon2i": lambda digest: password("argon2", digest),
    "argon2id": lambda digest: password("argon2", digest),
    "pbkdf2_sha256_django": lambda digest: password("django", digest),
    "bcrypt_sha256_django": lambda digest: password("django", digest),
    "pbkdf2_sha256": _pbkdf2_sha256,
    "pbkdf2_sha1": _pbkdf2_sha1,
    "scrypt_firebase": _firebase,
    "md5": _hex_digest("md5", 32),
    "sha256": _hex_digest("sha256", 64),
}
