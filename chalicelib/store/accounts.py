"""Accounts: the user item and its email claim.

- user: pk `USER#<user id>`; email, email_verified, two_factor, created_at.
- email claim: pk `EMAIL#<normalised email>`; user_id, password_hash, email_verified,
  two_factor. It makes an email belong to at most one account (written conditionally, in one
  transaction with the user) and it is the login view: everything a sign-in needs to decide
  and to start a session, so a login reads it in the same round trip as its failure counters.
  The password hash lives here only; the flags are copied on the user item, and every write
  that changes them writes both items in one transaction (`set_flags`).
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.errors import EmailTaken, Unauthenticated
from chalicelib.store.table import Item, Read, Write, delete, put, update


class Credentials(NamedTuple):
    """The email claim: what a login reads."""

    user_id: str
    email: str
    password_hash: str
    email_verified: bool
    two_factor: bool


class UserRecord(NamedTuple):
    user_id: str
    email: str
    email_verified: bool
    two_factor: bool
    created_at: int


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def claim_pk(email: str) -> str:
    return f"EMAIL#{email}"


class AccountItems:
    def claim(self, email: str) -> Read:
        def parse(item: Item) -> Credentials:
            return Credentials(
                user_id=item["user_id"]["S"],
                email=email,
                password_hash=item["password_hash"]["S"],
                email_verified=item.get("email_verified", {}).get("BOOL", False),
                two_factor=item.get("two_factor", {}).get("BOOL", False),
            )

        return Read(claim_pk(email), parse)

    def user(self, user_id: str) -> Read:
        def parse(item: Item) -> UserRecord:
            return UserRecord(
                user_id=user_id,
                email=item["email"]["S"],
                email_verified=item.get("email_verified", {}).get("BOOL", False),
                two_factor=item.get("two_factor", {}).get("BOOL", False),
                created_at=int(item["created_at"]["N"]),
            )

        return Read(user_pk(user_id), parse)

    def create(self, user: UserRecord, password_hash: str) -> list[Write]:
        """The claim and the user, each only if new: a taken email raises EmailTaken."""
        flags = _flags(user.email_verified, user.two_factor)
        claim = {
            "pk": {"S": claim_pk(user.email)},
            "user_id": {"S": user.user_id},
            "password_hash": {"S": password_hash},
            **flags,
        }
        account = {
            "pk": {"S": user_pk(user.user_id)},
            "email": {"S": user.email},
            "created_at": {"N": str(user.created_at)},
            **flags,
        }
        return [
            put(claim, "attribute_not_exists(pk)", on_condition_failed=EmailTaken),
            put(account, "attribute_not_exists(pk)"),
        ]

    def set_password_hash(self, credentials: Credentials, password_hash: str) -> Write:
        # Conditional: an update must never re-create a deleted account's claim, nor write into
        # a claim that passed to another account meanwhile.
        return update(
            claim_pk(credentials.email),
            "SET password_hash = :h",
            "user_id = :u",
            values={":h": {"S": password_hash}, ":u": {"S": credentials.user_id}},
            on_condition_failed=Unauthenticated,
        )

    def delete(self, user_id: str, email: str) -> list[Write]:
        return [
            delete(user_pk(user_id)),
            delete(
                claim_pk(email),
                "user_id = :u",
                values={":u": {"S": user_id}},
                on_condition_failed=Unauthenticated,
            ),
        ]


def _flags(email_verified: bool, two_factor: bool) -> Item:
    return {"email_verified": {"BOOL": email_verified}, "two_factor": {"BOOL": two_factor}}
