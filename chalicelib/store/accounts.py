"""Accounts: the user item and its email claim.

- user: pk `USER#<user id>`; email, email_verified, two_factor, created_at, and has_password
  `false` for an account without a password (absent: it has one); the ids of its sign-in
  identities (store.identities) and passkeys (store.passkeys) as string sets.
- email claim: pk `EMAIL#<normalised email>`; user_id, password_hash (absent: no password),
  email_verified, two_factor. It makes an email belong to at most one account (written
  conditionally, in one transaction with the user) and it is the login view: everything a
  sign-in needs to decide and to start a session, so a login reads it in the same round trip
  as its failure counters. The password hash lives here only; the flags are copied on the user
  item, and every write that changes them writes both items in one transaction (`set_flags`).
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.errors import EmailTaken, Unauthenticated
from chalicelib.store.table import Item, Read, Write, delete, put, update


class Credentials(NamedTuple):
    """The email claim: what a login reads."""

    user_id: str
    email: str
    password_hash: str | None  # None: an account without a password
    email_verified: bool
    two_factor: bool


class UserRecord(NamedTuple):
    user_id: str
    email: str
    email_verified: bool
    two_factor: bool
    created_at: int
    has_password: bool = True
    identities: tuple[str, ...] = ()  # ids of sign-in identities linked at creation


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
                password_hash=item.get("password_hash", {}).get("S"),
                email_verified=item.get("email_verified", {}).get("BOOL", False),
                two_factor=item.get("two_factor", {}).get("BOOL", False),
            )

        return Read(claim_pk(email), parse)

    def create(self, user: UserRecord, password_hash: str | None) -> list[Write]:
        """The claim and the user, each only if new: a taken email raises EmailTaken."""
        flags = _flags(user.email_verified, user.two_factor)
        claim = {
            "pk": {"S": claim_pk(user.email)},
            "user_id": {"S": user.user_id},
            **_password(password_hash),
            **flags,
        }
        account = {
            "pk": {"S": user_pk(user.user_id)},
            "email": {"S": user.email},
            "created_at": {"N": str(user.created_at)},
            **flags,
        }
        if password_hash is None:
            account["has_password"] = {"BOOL": False}
        if user.identities:
            account["identities"] = {"SS": list(user.identities)}
        return [
            put(claim, "attribute_not_exists(pk)", on_condition_failed=EmailTaken),
            put(account, "attribute_not_exists(pk)"),
        ]

    def update_claim(
        self,
        user_id: str,
        email: str,
        *,
        password_hash: str | None = None,
        email_verified: bool | None = None,
        two_factor: bool | None = None,
    ) -> Write:
        # Conditional: an update must never re-create a deleted account's claim, nor write into
        # a claim that passed to another account meanwhile.
        return _set(
            claim_pk(email),
            "user_id = :user_id",
            {":user_id": {"S": user_id}},
            password_hash=password_hash,
            email_verified=email_verified,
            two_factor=two_factor,
        )

    def update_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        email_verified: bool | None = None,
        two_factor: bool | None = None,
        has_password: bool | None = None,
    ) -> Write:
        return _set(
            user_pk(user_id),
            "attribute_exists(pk)",
            {},
            email=email,
            email_verified=email_verified,
            two_factor=two_factor,
            has_password=has_password,
        )

    def set_flags(
        self,
        user_id: str,
        email: str,
        *,
        email_verified: bool | None = None,
        two_factor: bool | None = None,
    ) -> list[Write]:
        """The flags a session copies, on both items that hold them, in one transaction."""
        return [
            self.update_user(user_id, email_verified=email_verified, two_factor=two_factor),
            self.update_claim(user_id, email, email_verified=email_verified, two_factor=two_factor),
        ]

    def move_claim(self, credentials: Credentials, new_email: str) -> list[Write]:
        """The account's email becomes `new_email`, verified: the old claim goes, a new one is
        made (EmailTaken if the address was claimed meanwhile), the user item follows."""
        claim = {
            "pk": {"S": claim_pk(new_email)},
            "user_id": {"S": credentials.user_id},
            **_password(credentials.password_hash),
            **_flags(True, credentials.two_factor),
        }
        return [
            put(claim, "attribute_not_exists(pk)", on_condition_failed=EmailTaken),
            delete(
                claim_pk(credentials.email),
                "user_id = :u",
                values={":u": {"S": credentials.user_id}},
                on_condition_failed=Unauthenticated,
            ),
            self.update_user(credentials.user_id, email=new_email, email_verified=True),
        ]

    def forget_unproven(self, credentials: Credentials) -> list[Write]:
        """An unverified account whose address was just proven (by an emailed code): what was
        set up before that proof may be someone else's, made to wait for the owner (a
        pre-account takeover). The password, the authenticator app, the recovery codes, the
        passkey and identity lists go from both items, which now say verified, one factor, no
        password (the caller deletes the passkey and identity items). Conditional on the
        account still being unverified."""
        false, true = {"BOOL": False}, {"BOOL": True}
        return [
            update(
                claim_pk(credentials.email),
                "SET email_verified = :t, two_factor = :f REMOVE password_hash",
                "user_id = :u AND email_verified = :f",
                values={":u": {"S": credentials.user_id}, ":t": true, ":f": false},
            ),
            update(
                user_pk(credentials.user_id),
                "SET email_verified = :t, two_factor = :f, has_password = :f REMOVE totp_secret,"
                " totp_pending, totp_pending_until, totp_last_step, recovery_codes, passkeys,"
                " identities",
                "attribute_exists(pk)",
                values={":t": true, ":f": false},
            ),
        ]

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


def _set(pk: str, condition: str, condition_values: Item, **attributes: str | bool | None) -> Write:
    """An update that sets the attributes given (None: leave that attribute alone), only while
    `condition` holds: an update must never re-create a deleted item."""
    values: Item = {}
    for name, value in attributes.items():
        if isinstance(value, bool):
            values[name] = {"BOOL": value}
        elif value is not None:
            values[name] = {"S": value}
    if not values:
        raise ValueError("nothing to set")
    return update(
        pk,
        "SET " + ", ".join(f"{name} = :{name}" for name in values),
        condition,
        values={**condition_values, **{f":{name}": value for name, value in values.items()}},
        on_condition_failed=Unauthenticated,
    )


def _password(password_hash: str | None) -> Item:
    return {} if password_hash is None else {"password_hash": {"S": password_hash}}


def _flags(email_verified: bool, two_factor: bool) -> Item:
    return {"email_verified": {"BOOL": email_verified}, "two_factor": {"BOOL": two_factor}}
