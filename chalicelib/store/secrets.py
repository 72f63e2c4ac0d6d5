"""One-time secrets: pk `SECRET#<purpose>#<user id>`, one live secret per user and purpose
(a new one replaces the old). Attributes: digest (SHA-256, never the secret itself),
valid_until, expires_at (the TTL attribute: a day after valid_until, so an expired secret can
still be told apart from a wrong one), new_email (an email change's target).

A secret is consumed by a delete conditional on its digest and validity, inside the transaction
that does what it allows: of two concurrent uses, exactly one succeeds.
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.errors import AppError
from chalicelib.store.table import Item, Read, Write, delete, put

_KEEP_AFTER_EXPIRY = 86_400


class StoredSecret(NamedTuple):
    digest: str
    valid_until: int
    new_email: str | None


def secret_pk(purpose: str, user_id: str) -> str:
    return f"SECRET#{purpose}#{user_id}"


class SecretItems:
    def read(self, purpose: str, user_id: str) -> Read:
        return Read(secret_pk(purpose, user_id), _stored)

    def put(
        self,
        purpose: str,
        user_id: str,
        digest: str,
        valid_until: int,
        new_email: str | None = None,
    ) -> Write:
        item: Item = {
            "pk": {"S": secret_pk(purpose, user_id)},
            "digest": {"S": digest},
            "valid_until": {"N": str(valid_until)},
            "expires_at": {"N": str(valid_until + _KEEP_AFTER_EXPIRY)},
        }
        if new_email is not None:
            item["new_email"] = {"S": new_email}
        return put(item)

    def consume(
        self, purpose: str, user_id: str, digest: str, now: int, error: type[AppError]
    ) -> Write:
        """Delete the secret only if it is still this one and still valid; else `error`."""
        return delete(
            secret_pk(purpose, user_id),
            "digest = :d AND valid_until > :now",
            values={":d": {"S": digest}, ":now": {"N": str(now)}},
            on_condition_failed=error,
        )

    def discard(self, purpose: str, user_id: str) -> Write:
        """Delete whatever secret of this purpose the user has (none is fine)."""
        return delete(secret_pk(purpose, user_id))


def _stored(item: Item) -> StoredSecret:
    return StoredSecret(
        digest=item["digest"]["S"],
        valid_until=int(item["valid_until"]["N"]),
        new_email=item["new_email"]["S"] if "new_email" in item else None,
    )
