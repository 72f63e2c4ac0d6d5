"""Sign-in identities of OAuth and OpenID Connect providers, and the attempts that lead to them.

- identity: pk `IDENTITY#<sha256 hex of the issuer and the subject>`; user_id, provider (the
  stage's id for it), issuer, subject, email (as the provider gave it when it was linked),
  created_at, last_used_at. Keyed by (issuer, subject), never by email: an address can change
  hands, a subject cannot. No provider token (access, refresh or ID token) is ever stored.
- on the user item: identities, a string set of the user's identity ids (at most 20), so the
  account lists them, and counts them as ways in, without a query.
- attempt: pk `OAUTH#<sha256 hex of the state>`; provider, verifier, nonce, next, intent,
  binding (a digest of the browser's oauth_attempt cookie), user_id (a link's account),
  valid_until, expires_at (TTL). Consumed by a conditional delete: of parallel callbacks with
  one state, one finds it.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from chalicelib.errors import IdentityTaken, Unauthenticated
from chalicelib.store.accounts import user_pk
from chalicelib.store.table import (
    Conflict,
    Item,
    Read,
    Table,
    Write,
    check,
    delete,
    put,
    update,
)

MAX_IDENTITIES = 20
_KEEP_AFTER_EXPIRY = 60  # TTL a minute after validity: the code checks valid_until itself


class IdentityRecord(NamedTuple):
    id: str  # the public handle: the digest in the key
    user_id: str
    provider: str
    issuer: str
    subject: str
    email: str
    created_at: int
    last_used_at: int


class AttemptRecord(NamedTuple):
    provider: str
    verifier: str
    nonce: str
    next: str
    intent: str  # "sign-in" or "link"
    user_id: str  # the account a link attaches to ("" for a sign-in)


def identity_id(issuer: str, subject: str) -> str:
    # A separator no issuer URL holds, so ("a", "bc") and ("ab", "c") differ.
    return hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()


def identity_pk(identity: str) -> str:
    return f"IDENTITY#{identity}"


def attempt_pk(state_digest: str) -> str:
    return f"OAUTH#{state_digest}"


class IdentityItems:
    def __init__(self, table: Table) -> None:
        self._table = table

    def read(self, issuer: str, subject: str) -> Read:
        return Read(identity_pk(identity_id(issuer, subject)), _record)

    def all_of(self, ids: frozenset[str]) -> list[IdentityRecord]:
        """The identities of one user (their ids from the user item), oldest first."""
        items = self._table.get_items([identity_pk(i) for i in sorted(ids)])
        return sorted((_record(i) for i in items.values()), key=lambda r: (r.created_at, r.id))

    def item(self, record: IdentityRecord) -> Item:
        return {
            "pk": {"S": identity_pk(record.id)},
            "user_id": {"S": record.user_id},
            "provider": {"S": record.provider},
            "issuer": {"S": record.issuer},
            "subject": {"S": record.subject},
            "email": {"S": record.email},
            "created_at": {"N": str(record.created_at)},
            "last_used_at": {"N": str(record.last_used_at)},
        }

    def put_new(self, record: IdentityRecord) -> Write:
        """The identity, only if no account has it yet (IdentityTaken otherwise)."""
        return put(self.item(record), "attribute_not_exists(pk)", on_condition_failed=IdentityTaken)

    def link(self, record: IdentityRecord) -> list[Write]:
        """The identity attached to an existing user: the item and the user item's set."""
        return [
            self.put_new(record),
            update(
                user_pk(record.user_id),
                "ADD identities :id",
                "attribute_exists(pk) AND (attribute_not_exists(identities)"
                " OR size(identities) < :max)",
                values={":id": {"SS": [record.id]}, ":max": {"N": str(MAX_IDENTITIES)}},
                on_condition_failed=Conflict,
            ),
        ]

    def unlink(self, record: IdentityRecord) -> list[Write]:
        return [
            delete(
                identity_pk(record.id),
                "user_id = :u",
                values={":u": {"S": record.user_id}},
                on_condition_failed=Conflict,
            ),
            update(
                user_pk(record.user_id),
                "DELETE identities :id",
                "contains(identities, :one)",
                values={":id": {"SS": [record.id]}, ":one": {"S": record.id}},
                on_condition_failed=Conflict,
            ),
        ]

    def listed(self, record: IdentityRecord) -> Write:
        """A condition, for a sign-in's transaction, that the user's item lists the identity."""
        return check(
            user_pk(record.user_id),
            "contains(identities, :id)",
            values={":id": {"S": record.id}},
            on_condition_failed=Unauthenticated,
        )

    def used(self, record: IdentityRecord, now: int) -> Write:
        return update(
            identity_pk(record.id),
            "SET last_used_at = :now",
            "user_id = :u",
            values={":now": {"N": str(now)}, ":u": {"S": record.user_id}},
            on_condition_failed=Unauthenticated,  # unlinked meanwhile
        )

    def forget(self, user_id: str, ids: frozenset[str]) -> list[Write]:
        """The user's identity items gone (their set goes with the caller's user item write)."""
        return [
            delete(identity_pk(i), "user_id = :u", values={":u": {"S": user_id}})
            for i in sorted(ids)
        ]

    # -- attempts -------------------------------------------------------------------------------

    def put_attempt(
        self, state: str, attempt: AttemptRecord, binding: str, valid_until: int
    ) -> Write:
        return put(
            {
                "pk": {"S": attempt_pk(_digest(state))},
                "provider": {"S": attempt.provider},
                "verifier": {"S": attempt.verifier},
                "nonce": {"S": attempt.nonce},
                "next": {"S": attempt.next},
                "intent": {"S": attempt.intent},
                "user_id": {"S": attempt.user_id},
                "binding": {"S": binding},
                "valid_until": {"N": str(valid_until)},
                "expires_at": {"N": str(valid_until + _KEEP_AFTER_EXPIRY)},
            }
        )

    def take_attempt(
        self, state: str, binding: str, provider: str, now: int
    ) -> AttemptRecord | None:
        """The attempt of `state`, consumed, if it is this browser's, for this provider and
        still valid; None otherwise (a foreign attempt stays for its own browser)."""
        item = self._table.delete_returning(
            delete(
                attempt_pk(_digest(state)),
                "binding = :b AND provider = :p AND valid_until > :now",
                values={":b": {"S": binding}, ":p": {"S": provider}, ":now": {"N": str(now)}},
            )
        )
        if item is None:
            return None
        return AttemptRecord(
            provider=item["provider"]["S"],
            verifier=item["verifier"]["S"],
            nonce=item["nonce"]["S"],
            next=item["next"]["S"],
            intent=item["intent"]["S"],
            user_id=item["user_id"]["S"],
        )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _record(item: Item) -> IdentityRecord:
    return IdentityRecord(
        id=item["pk"]["S"].removeprefix("IDENTITY#"),
        user_id=item["user_id"]["S"],
        provider=item["provider"]["S"],
        issuer=item["issuer"]["S"],
        subject=item["subject"]["S"],
        email=item["email"]["S"],
        created_at=int(item["created_at"]["N"]),
        last_used_at=int(item["last_used_at"]["N"]),
    )
