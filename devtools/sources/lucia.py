"""Lucia: the app's own user tables, exported as one JSON object of rows per table.

- v1 and v2: {"user": [...], "key": [...]} (the auth_user and auth_key tables; "auth_user",
  "auth_key" and "user_key" are read as the same). A key's id is `provider:provider user id`
  ("email:ann@example.com", "github:1234"), its hashed_password the password or null.
- v3: {"user": [...]} with the hash on the user row (`hashed_password` or `password_hash`, as
  the v3 guides name it), and optionally "oauth_account": [{provider_id, provider_user_id,
  user_id}] (the v3 guide's table for several providers) or `github_id`/`google_id` columns.

Docs:
- https://v2.lucia-auth.com/basics/keys/ and https://v1.lucia-auth.com/basics/keys (keys)
- https://v3.lucia-auth.com/guides/email-and-password/basics and
  https://v3.lucia-auth.com/guides/oauth/multiple-providers (v3's tables)
- lucia-auth/lucia packages/lucia/src/crypto.ts at v3.0 (`Scrypt` writes `salt:key`;
  `LegacyScrypt` reads v1's `salt:key` with r = 8 and v2's `s2:salt:key` with r = 16)

`--version v1|v2|v3` (default v3) names the Lucia the rows come from, as a bare `salt:key` means
different work factors: r = 8 in v1 and v2 (v2 wrote `s2:` hashes and kept reading v1's), r = 16
from v3's `Scrypt`. A v3 app still on `LegacyScrypt` is `--version v2`.

Mapping:
- The user's id is the source_id; the email is the user row's `email` column, else its
  `email:` key; `email_verified` (boolean or 0/1) when the row has it.
- Hashes: `s2:salt:key` -> lucia_scrypt {"version": "v2"}; `salt:key` -> lucia_scrypt with
  version v1 (from --version v1 or v2) or v3; `$argon2id$` (v3's recommended oslo Argon2id) ->
  argon2; `$2a$`/`$2b$` (oslo Bcrypt) -> bcrypt.
- github and google keys or accounts become identities; `email` and `username` keys are not
  identities; other providers are dropped unless `--issuers` names them.
- Lucia has no creation date of its own: a `created_at` column is read when the table has one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from devtools.sources import SourceError, SourceLine
from devtools.sources._common import (
    APPLE,
    GITHUB,
    GOOGLE,
    Reject,
    flag,
    get,
    identifier,
    identity,
    issuers,
    lines,
    load_json,
    obj,
    password,
    password_string,
    seconds,
    text,
    user,
)

OPTIONS = ("version", "issuers")

ISSUERS = {"github": GITHUB, "google": GOOGLE, "apple": APPLE}
_VERSIONS = ("v1", "v2", "v3")
_SALT_KEY = re.compile(r"[0-9a-fA-F]{2,256}:[0-9a-fA-F]{2,256}")
_TABLES = {"user": ("user", "auth_user"), "key": ("key", "auth_key", "user_key")}


def read(path: Path, options: Mapping[str, str]) -> Iterator[SourceLine]:
    version = options.get("version", "v3")
    if version not in _VERSIONS:
        raise SourceError("--version is one of v1, v2, v3")
    mapping = issuers(ISSUERS, options.get("issuers"))
    document = load_json(path)
    if not isinstance(document, dict):
        raise SourceError(f'{path} is not a JSON object of tables ({{"user": [...], ...}})')
    users = _table(document, _TABLES["user"], path)
    if users is None:
        raise SourceError(f'{path} has no "user" table')
    keys = _by_user(_table(document, _TABLES["key"], path) or [])
    accounts = _by_user(_table(document, ("oauth_account",), path) or [])
    if version in ("v1", "v2") and not keys and any(isinstance(row, dict) for row in users):
        raise SourceError(f'{path} has no "key" table: Lucia {version} keeps passwords there')
    return lines(
        enumerate(users, start=1),
        lambda row: _user(obj(row, "the user row"), version, mapping, keys, accounts),
    )


def _table(document: Mapping, names: tuple[str, ...], path: Path) -> list | None:
    for table in names:
        if table in document:
            rows = document[table]
            if not isinstance(rows, list):
                raise SourceError(f'{path}: "{table}" is not a list of rows')
            return rows
    return None


def _by_user(rows: list) -> dict[str, list[Mapping]]:
    """Rows grouped by their user_id; rows without one cannot belong to anybody and are left."""
    grouped: dict[str, list[Mapping]] = {}
    for row in rows:
        if isinstance(row, dict):
            owner = row.get("user_id")
            if isinstance(owner, str | int) and not isinstance(owner, bool):
                grouped.setdefault(str(owner), []).append(row)
    return grouped


def _user(
    row: Mapping,
    version: str,
    mapping: Mapping[str, str],
    keys: Mapping[str, list[Mapping]],
    accounts: Mapping[str, list[Mapping]],
) -> dict:
    source_id = identifier(row.get("id"), "id")
    email = text(row.get("email"), "email")
    hashed = text(get(row, "hashed_password", "password_hash"), "hashed_password")
    pairs: list[tuple[object, object]] = [
        ("github", row.get("github_id")),
        ("google", row.get("google_id")),
    ]
    for key in keys.get(source_id, []):
        provider, _, subject = (text(key.get("id"), "key id") or "").partition(":")
        if provider == "email" and email is None:
            email = subject or None
        key_hash = text(key.get("hashed_password"), "key hashed_password")
        if key_hash and (hashed is None or provider == "email"):
            hashed = key_hash
        pairs.append((provider, subject))
    for account in accounts.get(source_id, []):
        pairs.append((account.get("provider_id"), account.get("provider_user_id")))
    linked = [
        identity(mapping, provider, subject)
        for provider, subject in pairs
        if subject not in (None, "") and provider not in ("email", "username")
    ]
    if email is None:
        raise Reject("no email (no email column and no email: key)")
    return user(
        email=email,
        email_verified=flag(row.get("email_verified"), "email_verified"),
        created_at=seconds(row.get("created_at"), "created_at"),
        password=_password(hashed, version) if hashed else None,
        identities=[entry for entry in linked if entry],
        source_id=source_id,
    )


def _password(hashed: str, version: str) -> dict:
    if hashed.startswith("s2:") and _SALT_KEY.fullmatch(hashed[3:]):
        return password("lucia_scrypt", hashed[3:], {"version": "v2"})
    if _SALT_KEY.fullmatch(hashed):
        # v2 read a bare salt:key as v1's (r = 8); only v3's Scrypt writes it with r = 16
        return password("lucia_scrypt", hashed, {"version": "v3" if version == "v3" else "v1"})
    if hashed.startswith("$"):
        return password_string(hashed, "hashed_password")
    raise Reject("hashed_password is neither Lucia's salt:key nor a PHC or bcrypt string")
