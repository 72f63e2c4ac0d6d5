"""One-time secrets: pk `SECRET#<purpose>#<owner>`, one live secret per owner and purpose (a new
one replaces the old); the owner is a user id, or an address for a sign-in code. Attributes:
digest (SHA-256, never the secret itself), valid_until, expires_at (the TTL attribute: a day
after valid_until, so an expired secret can still be told apart from a wrong one), new_email
(an email change's target), binding (the session a re-authentication code belongs to),
password_hash (a sign-up's password, waiting for its code), used_at (when it was used).

A secret is consumed by an update conditional on its digest, its validity and its not being
used, inside the transaction that does what it allows: of two concurrent uses, exactly one
succeeds. The used secret stays (without any password hash) until its TTL, so a late copy of
the right code is told apart from a guess: the loser of a race with itself is no guess.
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.errors import AppError
from chalicelib.store.table import Item, Read, Write, delete, put, update

_KEEP_AFTER_EXPIRY = 86_400


class StoredSecret(NamedTuple):
    digest: str
    valid_until: int
    new_email: str | None = None
    binding: str | None = None
    password_hash: str | None = None
    used: bool = False


def secret_pk(purpose: str, owner: str) -> str:
    return f"SECRET#{purpose}#{owner}"


class SecretItems:
    def read(self, purpose: str, owner: str) -> Read:
        return Read(secret_pk(purpose, owner), _stored)

    def put(self, purpose: str, owner: str, secret: StoredSecret) -> Write:
        item: Item = {
            "pk": {"S": secret_pk(purpose, owner)},
            "digest": {"S": secret.digest},
            "valid_until": {"N": str(secret.valid_until)},
            "expires_at": {"N": str(secret.valid_until + _KEEP_AFTER_EXPIRY)},
        }
        for name in ("new_email", "binding", "password_hash"):
            value = getattr(secret, name)
            if value is not None:
                item[name] = {"S": value}
        return put(item)

    def consume(
        self, purpose: str, owner: str, digest: str, now: int, error: type[AppError]
    ) -> Write:
        """Mark the secret used, only if it is still this one, valid and unused; else `error`."""
        return update(
            secret_pk(purpose, owner),
            "SET used_at = :now REMOVE password_hash",
            "digest = :d AND valid_until > :now AND attribute_not_exists(used_at)",
            values={":d": {"S": digest}, ":now": {"N": str(now)}},
            on_condition_failed=error,
        )

    def discard(self, purpose: str, owner: str) -> Write:
        """Delete whatever secret of this purpose the owner has (none is fine)."""
        return delete(secret_pk(purpose, owner))


def _stored(item: Item) -> StoredSecret:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    return StoredSecret(
        digest=item["digest"]["S"],
        valid_until=int(item["valid_until"]["N"]),
        new_email=text("new_email"),
        binding=text("binding"),
        password_hash=text("password_hash"),
        used="used_at" in item,
    )
