"""Accounts: the user item and its email claim.

- user: pk `USER#<user id>`; email, email_verified, two_factor, created_at, and has_password
  `false` for an account without a password (absent: it has one); the ids of its sign-in
  identities (store.identities) and passkeys (store.passkeys) as string sets, its WebAuthn
  handle, and its authenticator app (store.twofactor); its roles (role_names, a string set,
  absent: none; `roles` is a reserved word in DynamoDB's expressions); a ban (banned_until,
  banned_at, ban_reason, banned_by; absent: not banned); data_exported_at, when the user last
  took a copy of their data; an imported user's source_id (store.imports); the organizations
  it belongs to (orgs, a string set of their ids, at most MAX_ORGS_PER_USER; absent: none;
  store.orgs writes it with each membership); and search_shard, its partition in the admin
  search index (store.directory). Read whole as a `UserItem`.
- email claim: pk `EMAIL#<normalised email>`; user_id, password_hash (absent: no password),
  password_rehashed (true: the hash was last written by a rehash at sign-in, not a change)
  and rehashed_from (the digest of the hash it replaced),
  email_verified, two_factor, role_names and banned_until (copies, for sign-in), devices (a map
  from the digest of a known browser's device cookie to when it stops being known:
  chalicelib.throttle). It makes an email belong to at
  most one account (written conditionally, in one transaction with the user) and it is the
  login view: everything a sign-in needs to decide and to start a session, so a login reads it
  in the same round trip as its failure counters. The password hash lives here only; the
  flags are copied on the user item, and every write that changes them writes both items in
  one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from chalicelib.errors import AppError, EmailTaken, InvalidCredentials, Unauthenticated
from chalicelib.store.directory import SEARCH_SHARD, search_shard
from chalicelib.store.table import Conflict, Item, Read, Write, check, delete, put, update

MAX_DEVICES = 10  # known browsers per account; the ones that expire soonest make way
BANNED_FOREVER = 253_402_300_799  # 9999-12-31T23:59:59Z: a ban without an end


class Credentials(NamedTuple):
    """The email claim: what a login reads."""

    user_id: str
    email: str
    password_hash: str | None  # None: an account without a password
    email_verified: bool
    two_factor: bool
    devices: Mapping[str, int] = MappingProxyType({})  # device cookie digest -> known until
    roles: tuple[str, ...] = ()
    banned_until: int = 0  # 0: not banned


class KnownDevice(NamedTuple):
    """A browser to know (chalicelib.throttle): its device cookie's digest, until when."""

    digest: str
    until: int
    now: int


class Rehashed(Conflict):
    """The hash a right password was checked against was replaced before its upgrade could
    be written: by a parallel sign-in's upgrade (then `after_other_upgrade` goes on) or a
    new password."""


class UserRecord(NamedTuple):
    user_id: str
    email: str
    email_verified: bool
    two_factor: bool
    created_at: int
    has_password: bool = True
    identities: tuple[str, ...] = ()  # ids of sign-in identities linked at creation


class Imported(NamedTuple):
    """What an imported user brings besides a new account's fields (store.imports)."""

    source_id: str
    roles: tuple[str, ...] = ()
    passkeys: tuple[str, ...] = ()  # credential ids (their items: store.passkeys.put_new)
    webauthn_handle: str | None = None
    totp_secret: str | None = None  # encrypted with the keyring


class Ban(NamedTuple):
    until: int  # BANNED_FOREVER: no end
    at: int
    reason: str
    by: str  # the admin's user id ("" for the operator's own tools)


class UserItem(NamedTuple):
    """The user item as read: the account, the ways into it that it lists, and its
    authenticator app (store.twofactor writes those attributes)."""

    user_id: str
    email: str
    email_verified: bool
    two_factor: bool
    webauthn_handle: str | None
    passkeys: frozenset[str]  # credential ids
    has_password: bool = True
    identities: frozenset[str] = frozenset()  # ids of the linked sign-in identities
    totp_secret: str | None = None  # encrypted; None: no authenticator app
    totp_pending: str | None = None  # a set-up not yet confirmed
    totp_pending_until: int = 0
    totp_last_step: int = 0
    recovery_codes: frozenset[str] = frozenset()  # digests
    used_recovery_codes: frozenset[str] = frozenset()
    roles: tuple[str, ...] = ()
    ban: Ban | None = None
    created_at: int = 0
    source_id: str | None = None  # an imported user's id in the system it came from
    orgs: frozenset[str] = frozenset()  # the ids of the organizations it belongs to

    @property
    def totp(self) -> bool:
        """An authenticator app is on."""
        return self.totp_secret is not None


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def claim_pk(email: str) -> str:
    return f"EMAIL#{email}"


class AccountItems:
    def user(self, user_id: str) -> Read:
        def parse(item: Item) -> UserItem:
            return UserItem(
                user_id=user_id,
                email=item["email"]["S"],
                email_verified=item.get("email_verified", {}).get("BOOL", False),
                two_factor=item.get("two_factor", {}).get("BOOL", False),
                webauthn_handle=item.get("webauthn_handle", {}).get("S"),
                passkeys=_strings(item, "passkeys"),
                has_password=item.get("has_password", {}).get("BOOL", True),
                identities=_strings(item, "identities"),
                totp_secret=item.get("totp_secret", {}).get("S"),
                totp_pending=item.get("totp_pending", {}).get("S"),
                totp_pending_until=int(item.get("totp_pending_until", {}).get("N", "0")),
                totp_last_step=int(item.get("totp_last_step", {}).get("N", "0")),
                recovery_codes=_strings(item, "recovery_codes"),
                used_recovery_codes=_strings(item, "recovery_codes_used"),
                roles=tuple(sorted(_strings(item, "role_names"))),
                ban=_ban(item),
                created_at=int(item.get("created_at", {}).get("N", "0")),
                source_id=item.get("source_id", {}).get("S"),
                orgs=_strings(item, "orgs"),
            )

        return Read(user_pk(user_id), parse)

    def claim(self, email: str) -> Read:
        def parse(item: Item) -> Credentials:
            return Credentials(
                user_id=item["user_id"]["S"],
                email=email,
                password_hash=item.get("password_hash", {}).get("S"),
                email_verified=item.get("email_verified", {}).get("BOOL", False),
                two_factor=item.get("two_factor", {}).get("BOOL", False),
                devices={
                    digest: int(until["N"])
                    for digest, until in item.get("devices", {}).get("M", {}).items()
                },
                roles=tuple(sorted(_strings(item, "role_names"))),
                banned_until=int(item.get("banned_until", {}).get("N", "0")),
            )

        return Read(claim_pk(email), parse)

    def create(self, user: UserRecord, password_hash: str | None) -> list[Write]:
        """The claim and the user, each only if new: a taken email raises EmailTaken."""
        return self._create(user, password_hash, {}, {})

    def imported(self, user: UserRecord, password_hash: str | None, extra: Imported) -> list[Write]:
        """An imported user's claim and user item, each only if new (EmailTaken): `create`'s,
        with what the user brings along (chalicelib.imports)."""
        claim: Item = {}
        account: Item = {"source_id": {"S": extra.source_id}}
        if extra.roles:
            claim["role_names"] = account["role_names"] = {"SS": list(extra.roles)}
        if extra.passkeys:
            account["passkeys"] = {"SS": list(extra.passkeys)}
        if extra.webauthn_handle is not None:
            account["webauthn_handle"] = {"S": extra.webauthn_handle}
        if extra.totp_secret is not None:
            account["totp_secret"] = {"S": extra.totp_secret}
        return self._create(user, password_hash, claim, account)

    def _create(
        self, user: UserRecord, password_hash: str | None, claim_extra: Item, account_extra: Item
    ) -> list[Write]:
        flags = _flags(user.email_verified, user.two_factor)
        claim = {
            "pk": {"S": claim_pk(user.email)},
            "user_id": {"S": user.user_id},
            **_password(password_hash),
            **flags,
            **claim_extra,
        }
        account = {
            "pk": {"S": user_pk(user.user_id)},
            "email": {"S": user.email},
            "created_at": {"N": str(user.created_at)},
            **flags,
            **account_extra,
        }
        account[SEARCH_SHARD] = {"S": search_shard(user.user_id)}
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
        two_factor: bool | None = None,
    ) -> Write:
        # Conditional: an update must never re-create a deleted account's claim, nor write into
        # a claim that passed to another account meanwhile. (Verifying the address is not an
        # update: `verified` and `first_proof` do it, for flows.mailbox alone.)
        return _set(
            claim_pk(email),
            "user_id = :user_id",
            {":user_id": {"S": user_id}},
            password_hash=password_hash,
            two_factor=two_factor,
            remove=("password_rehashed", "rehashed_from") if password_hash is not None else (),
        )

    def update_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        two_factor: bool | None = None,
        has_password: bool | None = None,
    ) -> Write:
        return _set(
            user_pk(user_id),
            "attribute_exists(pk)",
            {},
            email=email,
            two_factor=two_factor,
            has_password=has_password,
        )

    def after_password(
        self,
        credentials: Credentials,
        *,
        new_hash: str | None = None,
        device: KnownDevice | None = None,
    ) -> Write:
        """What a right password owes the claim it was checked against, as one update:
        - `new_hash`: the same password under today's Argon2id (outdated parameters, or a hash
          imported from another system), only over the hash that was verified, so it never
          overwrites a password set meanwhile (else Rehashed: see `after_other_upgrade`). The
          marks tell the event stream this is no password change (chalicelib.events), and
          which hash it replaced; every write of a new password removes them.
        - `device`: a browser that gave the right password is known to this account until its
          `until`: the claim's live devices as read, this one added, at most MAX_DEVICES. Only
          while the address is as proven as it was read: the first proof of an unverified
          address forgets every browser (`first_proof`), and one that checked the squatter's
          password just before it must not come back."""
        sets, conditions, values = [], [], {}
        if new_hash is not None:
            sets.append("password_hash = :new, password_rehashed = :t, rehashed_from = :from")
            conditions.append("password_hash = :old")
            values |= {
                ":new": {"S": new_hash},
                ":old": {"S": str(credentials.password_hash)},
                ":t": {"BOOL": True},
                ":from": {"S": _hash_digest(credentials.password_hash)},
            }
        if device is not None:
            sets.append("devices = :devices")
            conditions.append("email_verified = :v")
            values |= _devices(credentials, device)
        if not sets:
            raise ValueError("nothing owed")
        return _after_check(
            credentials,
            "SET " + ", ".join(sets),
            " AND ".join(conditions),
            values,
            on_condition_failed=InvalidCredentials if new_hash is None else Rehashed,
        )

    def after_other_upgrade(
        self, credentials: Credentials, device: KnownDevice | None = None
    ) -> Write:
        """`after_password` for a check whose upgrade lost to a parallel one (a double click,
        six tabs): the hash is no longer the one verified, but it is the upgrade of exactly
        that one (the same password, so this sign-in goes on), and the browser is still to be
        known. Anything else (a new password meanwhile) fails it: InvalidCredentials."""
        upgraded = "rehashed_from = :from"
        values: Item = {":from": {"S": _hash_digest(credentials.password_hash)}}
        if device is None:
            return check(
                claim_pk(credentials.email),
                f"user_id = :u AND {upgraded}",
                values={":u": {"S": credentials.user_id}, **values},
                on_condition_failed=InvalidCredentials,
            )
        return _after_check(
            credentials,
            "SET devices = :devices",
            f"email_verified = :v AND {upgraded}",
            {**values, **_devices(credentials, device)},
        )

    def still_unproven(self, credentials: Credentials) -> Write:
        """A condition, for the transaction of a flow that checked an unverified account's
        password, that its address is still unproven: once first proven (`first_proof`) that
        password is gone or replaced, and what it allowed must fail (InvalidCredentials)."""
        return check(
            user_pk(credentials.user_id),
            "email_verified = :f",
            values={":f": {"BOOL": False}},
            on_condition_failed=InvalidCredentials,
        )

    def verified(self, user_id: str, email: str) -> list[Write]:
        """The address verified by the account's own session, on both items that hold the
        flag, in one transaction (flows.mailbox)."""
        true = {":t": {"BOOL": True}}
        return [
            update(
                user_pk(user_id),
                "SET email_verified = :t",
                "attribute_exists(pk)",
                values=true,
                on_condition_failed=Unauthenticated,
            ),
            update(
                claim_pk(email),
                "SET email_verified = :t",
                "user_id = :u",
                values={**true, ":u": {"S": user_id}},
                on_condition_failed=Unauthenticated,
            ),
        ]

    def first_proof(self, account: UserItem, password_hash: str | None) -> list[Write]:
        """An unverified account's address proven for the first time by someone without a
        session of it (flows.mailbox): the password (replaced by `password_hash`, a reset's
        own, when given), the authenticator app, its recovery codes, and the passkey and
        identity lists go from both items, which now say verified, one factor. Conditional on
        the account still being unverified, and on its lists being exactly as read: a passkey
        or identity added meanwhile makes the proof fail (Conflict) instead of surviving it.
        The caller deletes the passkey and identity items themselves."""
        false, true = {"BOOL": False}, {"BOOL": True}
        claim_values = {":u": {"S": account.user_id}, ":t": true, ":f": false}
        # Browsers known for the squatter's password (chalicelib.throttle) are known no more.
        claim_update = (
            "SET email_verified = :t, two_factor = :f"
            " REMOVE password_hash, password_rehashed, rehashed_from, devices"
        )
        if password_hash is not None:
            claim_update = (
                "SET email_verified = :t, two_factor = :f, password_hash = :h"
                " REMOVE password_rehashed, rehashed_from, devices"
            )
            claim_values[":h"] = {"S": password_hash}
        passkeys, passkey_values = _exactly("passkeys", account.passkeys, "p")
        identities, identity_values = _exactly("identities", account.identities, "i")
        return [
            update(
                claim_pk(account.email),
                claim_update,
                "user_id = :u AND email_verified = :f",
                values=claim_values,
                on_condition_failed=Conflict,
            ),
            update(
                user_pk(account.user_id),
                "SET email_verified = :t, two_factor = :f, has_password = :hp REMOVE totp_secret,"
                " totp_pending, totp_pending_until, totp_last_step, recovery_codes,"
                " recovery_codes_used, passkeys, identities",
                f"attribute_exists(pk) AND email_verified = :f AND {passkeys} AND {identities}",
                values={
                    ":t": true,
                    ":f": false,
                    ":hp": {"BOOL": password_hash is not None},
                    **passkey_values,
                    **identity_values,
                },
                on_condition_failed=Conflict,
            ),
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
        if credentials.devices:  # the browsers it knows go with it
            claim["devices"] = {"M": {d: {"N": str(t)} for d, t in credentials.devices.items()}}
        if credentials.roles:  # and what it may do
            claim["role_names"] = {"SS": list(credentials.roles)}
        if credentials.banned_until:
            claim["banned_until"] = {"N": str(credentials.banned_until)}
        return [
            put(claim, "attribute_not_exists(pk)", on_condition_failed=EmailTaken),
            delete(
                claim_pk(credentials.email),
                "user_id = :u",
                values={":u": {"S": credentials.user_id}},
                on_condition_failed=Unauthenticated,
            ),
            update(
                user_pk(credentials.user_id),
                "SET email = :e, email_verified = :t",
                "attribute_exists(pk)",
                values={":e": {"S": new_email}, ":t": {"BOOL": True}},
                on_condition_failed=Unauthenticated,
            ),
        ]

    def delete(self, user_id: str, email: str, orgs: frozenset[str] | None = None) -> list[Write]:
        """The user item and its claim. With `orgs` (the organizations the deletion removes
        the user from), only while the user belongs to exactly those: one joined meanwhile
        would leave a membership behind (Conflict: asked again, it reads the news)."""
        if orgs is None:
            account = delete(user_pk(user_id))
        else:
            held, values = _exactly("orgs", orgs, "o")
            account = delete(user_pk(user_id), held, values=values, on_condition_failed=Conflict)
        return [
            account,
            delete(
                claim_pk(email),
                "user_id = :u",
                values={":u": {"S": user_id}},
                on_condition_failed=Unauthenticated,
            ),
        ]

    def data_exported(self, user_id: str, at: int) -> Write:
        """The user took a copy of their data (flows.data_export): the mark makes its event."""
        return update(
            user_pk(user_id),
            "SET data_exported_at = :at",
            "attribute_exists(pk)",
            values={":at": {"N": str(at)}},
            on_condition_failed=Unauthenticated,
        )

    def standing(self, user_id: str, roles: tuple[str, ...], now: int) -> Write:
        """A condition for a transaction that starts a session: the account is not banned now and
        holds exactly the roles the session will carry. A ban or a change of roles committed since
        they were read fails the sign-in (Conflict: asked again, it reads the news), so no session
        is ever made from a standing that no longer holds."""
        held, values = _exactly("role_names", frozenset(roles), "r")
        return check(
            user_pk(user_id),
            f"attribute_exists(pk) AND (attribute_not_exists(banned_until) OR banned_until <= :now)"
            f" AND {held}",
            values={":now": {"N": str(now)}, **values},
            on_condition_failed=Conflict,
        )

    def roles_changed(self, item: UserItem, roles: tuple[str, ...]) -> list[Write]:
        """The account's roles become `roles`, on the user item (only while they are as read: two
        admins changing them at once cannot both win on a stale read) and on its claim."""
        held, held_values = _exactly("role_names", frozenset(item.roles), "r")
        if roles:
            expression, values = "SET role_names = :roles", {":roles": {"SS": list(roles)}}
        else:
            expression, values = "REMOVE role_names", {}
        return [
            update(
                user_pk(item.user_id),
                expression,
                f"attribute_exists(pk) AND {held}",
                values={**values, **held_values},
                on_condition_failed=Conflict,
            ),
            update(
                claim_pk(item.email),
                expression,
                "user_id = :u",
                values={**values, ":u": {"S": item.user_id}},
                on_condition_failed=Conflict,
            ),
        ]

    def banned(self, item: UserItem, ban: Ban) -> list[Write]:
        """The account banned, on the user item (with who, when and why) and its claim (for
        sign-in)."""
        return [
            update(
                user_pk(item.user_id),
                "SET banned_until = :until, banned_at = :at, ban_reason = :reason, banned_by = :by",
                "attribute_exists(pk)",
                values={
                    ":until": {"N": str(ban.until)},
                    ":at": {"N": str(ban.at)},
                    ":reason": {"S": ban.reason},
                    ":by": {"S": ban.by},
                },
                on_condition_failed=Conflict,
            ),
            update(
                claim_pk(item.email),
                "SET banned_until = :until",
                "user_id = :u",
                values={":until": {"N": str(ban.until)}, ":u": {"S": item.user_id}},
                on_condition_failed=Conflict,
            ),
        ]

    def unbanned(self, item: UserItem) -> list[Write]:
        return [
            update(
                user_pk(item.user_id),
                "REMOVE banned_until, banned_at, ban_reason, banned_by",
                "attribute_exists(pk)",
                on_condition_failed=Conflict,
            ),
            update(
                claim_pk(item.email),
                "REMOVE banned_until",
                "user_id = :u",
                values={":u": {"S": item.user_id}},
                on_condition_failed=Conflict,
            ),
        ]


def _ban(item: Item) -> Ban | None:
    if "banned_until" not in item:
        return None
    return Ban(
        until=int(item["banned_until"]["N"]),
        at=int(item.get("banned_at", {}).get("N", "0")),
        reason=item.get("ban_reason", {}).get("S", ""),
        by=item.get("banned_by", {}).get("S", ""),
    )


def _after_check(
    credentials: Credentials,
    expression: str,
    condition: str,
    values: Item,
    on_condition_failed: Callable[[], AppError] = InvalidCredentials,
) -> Write:
    """An update of the email claim a right password was checked against, only while it is
    still that account's and `condition` holds (else InvalidCredentials: that password signs
    in there no more)."""
    return update(
        claim_pk(credentials.email),
        expression,
        f"user_id = :u AND {condition}",
        values={":u": {"S": credentials.user_id}, **values},
        on_condition_failed=on_condition_failed,
    )


def _devices(credentials: Credentials, device: KnownDevice) -> Item:
    """The claim's live devices as read and `device`, at most MAX_DEVICES (those that expire
    soonest make way), and the address as proven as it was read."""
    live = {d: t for d, t in credentials.devices.items() if t > device.now and d != device.digest}
    kept = sorted(live.items(), key=lambda entry: entry[1])[-(MAX_DEVICES - 1) :]
    devices = {d: {"N": str(t)} for d, t in [*kept, (device.digest, device.until)]}
    return {":devices": {"M": devices}, ":v": {"BOOL": credentials.email_verified}}


def _hash_digest(password_hash: str | None) -> str:
    """Which hash an upgrade replaced, without keeping the hash itself."""
    return hashlib.sha256(str(password_hash).encode()).hexdigest()


def _set(
    pk: str,
    condition: str,
    condition_values: Item,
    remove: tuple[str, ...] = (),
    **attributes: str | bool | None,
) -> Write:
    """An update that sets the attributes given (None: leave that attribute alone) and removes
    those of `remove`, only while `condition` holds: an update must never re-create a deleted
    item."""
    values: Item = {}
    for name, value in attributes.items():
        if isinstance(value, bool):
            values[name] = {"BOOL": value}
        elif value is not None:
            values[name] = {"S": value}
    if not values:
        raise ValueError("nothing to set")
    expression = "SET " + ", ".join(f"{name} = :{name}" for name in values)
    if remove:
        expression += " REMOVE " + ", ".join(remove)
    return update(
        pk,
        expression,
        condition,
        values={**condition_values, **{f":{name}": value for name, value in values.items()}},
        on_condition_failed=Unauthenticated,
    )


def _exactly(attribute: str, members: frozenset[str], prefix: str) -> tuple[str, Item]:
    """A condition that the string set `attribute` holds `members` and nothing else."""
    if not members:
        return f"attribute_not_exists({attribute})", {}
    values: Item = {f":{prefix}n": {"N": str(len(members))}}
    parts = [f"size({attribute}) = :{prefix}n"]
    for index, member in enumerate(sorted(members)):
        values[f":{prefix}{index}"] = {"S": member}
        parts.append(f"contains({attribute}, :{prefix}{index})")
    return " AND ".join(parts), values


def _password(password_hash: str | None) -> Item:
    return {} if password_hash is None else {"password_hash": {"S": password_hash}}


def _flags(email_verified: bool, two_factor: bool) -> Item:
    return {"email_verified": {"BOOL": email_verified}, "two_factor": {"BOOL": two_factor}}


def _strings(item: Item, attribute: str) -> frozenset[str]:
    return frozenset(item.get(attribute, {}).get("SS", []))
