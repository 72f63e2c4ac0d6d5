"""Better Auth: its `user` and `account` tables, exported as {"user": [...], "account": [...]}
(rows as the database returns them: Better Auth's camelCase field names, or the snake_case
column names a Drizzle or Prisma schema maps them to).

Docs:
- https://www.better-auth.com/docs/concepts/database (core schema: user {id, name, email,
  emailVerified, createdAt, ...}, account {id, accountId, providerId, userId, password, ...})
- https://www.better-auth.com/docs/plugins/admin (user.banned, banExpires)
- better-auth packages/better-auth/src/crypto/password.ts (hashPassword: `salt:key`, hex,
  scrypt N=16384 r=16 p=1, 64 bytes, over the NFKC password)

Mapping:
- user.id is the source_id; emailVerified as given (boolean, or 0/1 from SQLite).
- The `credential` account's password: `salt:key` -> better_auth_scrypt; a team's own
  `password.hash` (bcrypt or Argon2) -> bcrypt or argon2.
- Other accounts become identities, accountId being the provider's user id: google, github and
  apple by default; other providerIds (and generic-OAuth ones) are dropped unless `--issuers`
  names them.
- Rejected: users the admin plugin banned (banned true, banExpires absent or in the future when
  the export was read; our format has no disabled state).
- Not carried: name, image, the admin plugin's `role` (roles are granted here through the admin
  API), two-factor secrets (encrypted with the app's BETTER_AUTH_SECRET), passkeys.
"""

from __future__ import annotations

import re
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
    lines,
    load_json,
    obj,
    password,
    password_string,
    required,
    seconds,
    text,
    user,
)

OPTIONS = ("issuers",)

ISSUERS = {"google": GOOGLE, "github": GITHUB, "apple": APPLE}
_SALT_KEY = re.compile(r"[0-9a-fA-F]{2,256}:[0-9a-fA-F]{2,256}")


def read(
    path: Path, options: Mapping[str, str], now: Callable[[], float] = time.time
) -> Iterator[SourceLine]:
    mapping = issuers(ISSUERS, options.get("issuers"))
    document = load_json(path)
    if not isinstance(document, dict) or not isinstance(document.get("user"), list):
        raise SourceError(f'{path} is not Better Auth\'s tables: no "user" list')
    accounts = document.get("account", [])
    if not isinstance(accounts, list):
        raise SourceError(f'{path}: "account" is not a list of rows')
    by_user: dict[str, list[Mapping]] = {}
    for row in accounts:
        if isinstance(row, dict):
            owner = get(row, "userId", "user_id")
            if isinstance(owner, str | int) and not isinstance(owner, bool):
                by_user.setdefault(str(owner), []).append(row)
    read_at = int(now())
    return lines(
        enumerate(document["user"], start=1),
        lambda row: _user(obj(row, "the user row"), by_user, mapping, read_at),
    )


def _user(
    row: Mapping, accounts: Mapping[str, list[Mapping]], mapping: Mapping[str, str], now: int
) -> dict:
    source_id = identifier(row.get("id"), "id")
    if flag(row.get("banned"), "banned"):
        expires = seconds(get(row, "banExpires", "ban_expires"), "banExpires")
        if expires is None or expires > now:
            raise Reject("banned in Better Auth: not imported, as it would be allowed in again")
    email = required(row.get("email"), "email")
    found = None
    linked = []
    for account in accounts.get(source_id, []):
        provider = get(account, "providerId", "provider_id")
        if provider == "credential":
            hashed = text(account.get("password"), "credential password")
            found = _password(hashed) if hashed else None
            continue
        entry = identity(mapping, provider, get(account, "accountId", "account_id"))
        if entry:
            linked.append(entry)
    return user(
        email=email,
        email_verified=flag(get(row, "emailVerified", "email_verified"), "emailVerified"),
        created_at=seconds(get(row, "createdAt", "created_at"), "createdAt"),
        password=found,
        identities=linked,
        source_id=source_id,
    )


def _password(hashed: str) -> dict:
    if _SALT_KEY.fullmatch(hashed):
        return password("better_auth_scrypt", hashed)
    if hashed.startswith("$"):
        return password_string(hashed, "credential password")
    raise Reject("credential password is neither Better Auth's salt:key nor a bcrypt/PHC string")
