"""Passkeys (WebAuthn credentials) and the challenges they answer.

- passkey: pk `PASSKEY#<credential id, base64url>`; user_id, public_key (binary), sign_count,
  transports, device_type, backed_up, aaguid, name, created_at, last_used_at. Keyed by the
  credential id, because a discoverable sign-in names only the credential.
- on the user item (store.accounts' UserItem): webauthn_handle (a random handle given to
  authenticators instead of the user's id) and passkeys (a string set of the user's credential
  ids: at most 10, listed without a query, and excluded when registering another).
- challenge: pk `CHALLENGE#<sha256 hex of the challenge>`; purpose, binding (the session or
  sign-in attempt that asked for it), user_id, valid_until, expires_at (TTL). Consumed by a
  conditional delete: a second use of one challenge finds nothing.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from chalicelib.errors import PasskeyExists, TooManyPasskeys
from chalicelib.store.accounts import UserItem, user_pk
from chalicelib.store.table import Conflict, Item, Read, Table, Write, delete, put, update

MAX_PASSKEYS = 10


class PasskeyRecord(NamedTuple):
    credential_id: str
    user_id: str
    public_key: bytes
    sign_count: int
    transports: list[str]
    device_type: str
    backed_up: bool
    aaguid: str
    name: str
    created_at: int
    last_used_at: int


class Challenge(NamedTuple):
    purpose: str
    binding: str
    user_id: str


def passkey_pk(credential_id: str) -> str:
    return f"PASSKEY#{credential_id}"


def challenge_pk(challenge: bytes) -> str:
    return f"CHALLENGE#{hashlib.sha256(challenge).hexdigest()}"


class PasskeyItems:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- the user's passkeys -------------------------------------------------------------

    def passkey(self, credential_id: str) -> Read:
        return Read(passkey_pk(credential_id), _record)

    def all_of(self, owner: UserItem) -> list[PasskeyRecord]:
        """The owner's passkeys, oldest first, in one BatchGetItem."""
        items = self._table.get_items([passkey_pk(c) for c in sorted(owner.passkeys)])
        records = [
            _record(item) for item in items.values() if item["user_id"]["S"] == owner.user_id
        ]
        return sorted(records, key=lambda r: (r.created_at, r.credential_id))

    def add(self, owner: UserItem, record: PasskeyRecord, handle: str) -> list[Write]:
        """The passkey item (new: a credential registers once) and the user item's set, within
        the limit; the user has two factors from now on."""
        return [
            self.put_new(record),
            update(
                user_pk(owner.user_id),
                "ADD passkeys :id SET two_factor = :on",
                "webauthn_handle = :h AND (attribute_not_exists(passkeys)"
                " OR size(passkeys) < :max)",
                values={
                    ":id": {"SS": [record.credential_id]},
                    ":h": {"S": handle},
                    ":on": {"BOOL": True},
                    ":max": {"N": str(MAX_PASSKEYS)},
                },
                # The tenth raced another (or the account went away meanwhile).
                on_condition_failed=TooManyPasskeys,
            ),
        ]

    def put_new(self, record: PasskeyRecord) -> Write:
        """The passkey item alone, only if no account has the credential (PasskeyExists): its
        user item lists it in the same transaction (`add`, or an import's new user)."""
        item: Item = {
            "pk": {"S": passkey_pk(record.credential_id)},
            "user_id": {"S": record.user_id},
            "public_key": {"B": record.public_key},
            "sign_count": {"N": str(record.sign_count)},
            "transports": {"L": [{"S": t} for t in record.transports]},
            "device_type": {"S": record.device_type},
            "backed_up": {"BOOL": record.backed_up},
            "aaguid": {"S": record.aaguid},
            "name": {"S": record.name},
            "created_at": {"N": str(record.created_at)},
            "last_used_at": {"N": str(record.last_used_at)},
        }
        return put(item, "attribute_not_exists(pk)", on_condition_failed=PasskeyExists)

    def remove(self, owner: UserItem, credential_id: str) -> list[Write]:
        """The passkey gone, from the user's set too; the user keeps two factors if another
        factor stays (the set as it was read: a concurrent change fails the write)."""
        count = len(owner.passkeys)
        two_factor_after = owner.totp or count > 1
        return [
            delete(
                passkey_pk(credential_id),
                "user_id = :u",
                values={":u": {"S": owner.user_id}},
                on_condition_failed=Conflict,
            ),
            update(
                user_pk(owner.user_id),
                "DELETE passkeys :id SET two_factor = :after",
                "size(passkeys) = :count AND contains(passkeys, :one)"
                + (
                    " AND attribute_exists(totp_secret)"
                    if owner.totp
                    else " AND attribute_not_exists(totp_secret)"
                ),
                values={
                    ":id": {"SS": [credential_id]},
                    ":one": {"S": credential_id},
                    ":after": {"BOOL": two_factor_after},
                    ":count": {"N": str(count)},
                },
                on_condition_failed=Conflict,
            ),
        ]

    def forget(self, owner: UserItem) -> list[Write]:
        """The owner's passkey items gone (their set on the user item goes with the caller's
        update of it: store.accounts.first_proof)."""
        return [
            delete(passkey_pk(c), "user_id = :u", values={":u": {"S": owner.user_id}})
            for c in sorted(owner.passkeys)
        ]

    def first_handle(self, user_id: str, handle: str) -> Write:
        """The user's WebAuthn handle, only if they have none yet."""
        return update(
            user_pk(user_id),
            "SET webauthn_handle = :h",
            "attribute_exists(pk) AND attribute_not_exists(webauthn_handle)",
            values={":h": {"S": handle}},
            on_condition_failed=Conflict,
        )

    def rename(self, record: PasskeyRecord, name: str) -> Write:
        return update(
            passkey_pk(record.credential_id),
            "SET #name = :name",
            "user_id = :u",
            values={":name": {"S": name}, ":u": {"S": record.user_id}},
            names={"#name": "name"},
            on_condition_failed=Conflict,
        )

    def used(self, record: PasskeyRecord, sign_count: int, now: int) -> Write:
        """The new sign count and last use, only over the count that was verified against."""
        return update(
            passkey_pk(record.credential_id),
            "SET sign_count = :new, last_used_at = :now",
            "sign_count = :old",
            values={
                ":new": {"N": str(sign_count)},
                ":now": {"N": str(now)},
                ":old": {"N": str(record.sign_count)},
            },
            on_condition_failed=Conflict,
        )

    # -- challenges ------------------------------------------------------------------------

    def put_challenge(
        self, challenge: bytes, purpose: str, binding: str, user_id: str, valid_until: int
    ) -> Write:
        return put(
            {
                "pk": {"S": challenge_pk(challenge)},
                "purpose": {"S": purpose},
                "binding": {"S": binding},
                "user_id": {"S": user_id},
                "valid_until": {"N": str(valid_until)},
                "expires_at": {"N": str(valid_until)},
            }
        )

    def take_challenge(
        self, challenge: bytes, purpose: str, binding: str, now: int
    ) -> Challenge | None:
        """Consume the challenge if it is live and was issued for this purpose and binding;
        None otherwise (unknown, used, expired, or asked for by someone else)."""
        item = self._table.delete_returning(
            delete(
                challenge_pk(challenge),
                "purpose = :p AND binding = :b AND valid_until > :now",
                values={
                    ":p": {"S": purpose},
                    ":b": {"S": binding},
                    ":now": {"N": str(now)},
                },
            )
        )
        if item is None:
            return None
        return Challenge(item["purpose"]["S"], item["binding"]["S"], item["user_id"]["S"])


def _record(item: Item) -> PasskeyRecord:
    return PasskeyRecord(
        credential_id=item["pk"]["S"].removeprefix("PASSKEY#"),
        user_id=item["user_id"]["S"],
        public_key=bytes(item["public_key"]["B"]),
        sign_count=int(item["sign_count"]["N"]),
        transports=[t["S"] for t in item.get("transports", {}).get("L", [])],
        device_type=item["device_type"]["S"],
        backed_up=item["backed_up"]["BOOL"],
        aaguid=item["aaguid"]["S"],
        name=item["name"]["S"],
        created_at=int(item["created_at"]["N"]),
        last_used_at=int(item["last_used_at"]["N"]),
    )
