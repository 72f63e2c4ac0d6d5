"""Supabase Auth: the `auth.users` table as a JSON array, each row optionally carrying its
`auth.identities` rows under "identities". With psql, for example:

    \\copy (select coalesce(json_agg(u), '[]') from (
        select users.*, (select json_agg(i) from auth.identities i where i.user_id = users.id)
               as identities
        from auth.users) u) to 'users.json'

Docs:
- https://supabase.com/docs/guides/auth/users (the auth.users table: id, email,
  encrypted_password, email_confirmed_at, created_at, raw_app_meta_data, banned_until,
  deleted_at, is_anonymous)
- https://supabase.com/docs/guides/auth/identities (auth.identities: provider, provider_id,
  identity_data.sub)
- supabase/auth migrations/ and internal/crypto/password.go (the columns as created; the
  hashes GoTrue accepts: bcrypt, Argon2, and `$fbscrypt$` for Firebase's scrypt)

Mapping:
- id is the source_id; email_confirmed_at set means a verified email.
- encrypted_password: `$2a$` bcrypt (GoTrue's own), `$argon2...` and `$fbscrypt$` (hashes a team
  imported into Supabase) pass as bcrypt, argon2 and firebase_scrypt; "" means no password.
- Rejected: soft-deleted rows (deleted_at), banned ones (banned_until in the future when the
  export was read, our format having no disabled state), anonymous users (no email).
- Identities: google, github and apple become {issuer, provider_id}; `email` and `phone` are
  not identities; SSO (`sso:<uuid>`), azure (tenant-specific issuers) and the rest are dropped
  unless `--issuers` names them. raw_app_meta_data and raw_user_meta_data are not carried.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
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
    items,
    lines,
    load_json,
    obj,
    parse_json,
    password_string,
    required,
    seconds,
    text,
    user,
)

OPTIONS = ("issuers",)

ISSUERS = {"google": GOOGLE, "github": GITHUB, "apple": APPLE}


def read(
    path: Path, options: Mapping[str, str], now: Callable[[], float] = time.time
) -> Iterator[SourceLine]:
    mapping = issuers(ISSUERS, options.get("issuers"))
    rows = load_json(path)
    if not isinstance(rows, list):
        raise SourceError(f"{path} is not a JSON array of auth.users rows")
    read_at = int(now())
    return lines(enumerate(rows, start=1), lambda row: _user(obj(row, "the row"), mapping, read_at))


def _user(row: Mapping, mapping: Mapping[str, str], now: int) -> dict:
    source_id = identifier(row.get("id"), "id")
    if seconds(row.get("deleted_at"), "deleted_at") is not None:
        raise Reject("deleted in Supabase")
    banned_until = seconds(row.get("banned_until"), "banned_until")
    if banned_until is not None and banned_until > now:
        raise Reject("banned in Supabase: not imported, as it would be allowed in again")
    if flag(row.get("is_anonymous"), "is_anonymous"):
        raise Reject("an anonymous user: no email")
    email = required(row.get("email"), "email")
    hashed = text(row.get("encrypted_password"), "encrypted_password")
    linked = []
    for index, entry in enumerate(items(row.get("identities"), "identities")):
        entry = obj(entry, f"identities[{index}]")
        provider = entry.get("provider")
        if not isinstance(provider, str) or provider not in mapping:
            continue  # email and phone are not identities; unmapped providers are dropped
        data = entry.get("identity_data")
        if isinstance(data, str):  # a text export of the jsonb column
            data = _json_object(data, "identity_data")
        subject = get(entry, "provider_id") or get(obj(data or {}, "identity_data"), "sub")
        linked.append(identity(mapping, provider, subject))
    return user(
        email=email,
        email_verified=seconds(row.get("email_confirmed_at"), "email_confirmed_at") is not None,
        created_at=seconds(row.get("created_at"), "created_at"),
        password=password_string(hashed, "encrypted_password") if hashed else None,
        identities=[entry for entry in linked if entry],
        source_id=source_id,
    )


def _json_object(value: str, what: str) -> Mapping:
    try:
        return obj(parse_json(value), what)
    except (ValueError, RecursionError):
        raise Reject(f"{what} is not JSON") from None
