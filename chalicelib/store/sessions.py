"""Sessions: pk `SESSION#<sha256 hex of the token>`.

Attributes: session_id (the public handle), session_user_id, what the session knows of its user
(email, email_verified, two_factor_enabled, has_password) and of itself (two_factor_verified,
reauthenticated_at: a re-authentication on this session lasts 5 minutes; amr: how its user
signed in, RFC 8176's method names space-separated; auth_time: when), its user's roles
(role_names, a string set, absent: none), and for an admin's impersonation the admin
(impersonator_id, impersonator_email), the organization it works in and the user's role there
(org_id, org_role: chalicelib.orgs), created_at, expires_at (the TTL attribute),
absolute_expires_at, last_used_at, user_agent, ip.

The key is a digest of the cookie's token, so a table dump holds no usable cookie. Carrying its
user's state makes a protected request one GetItem, no join; every change to that state rotates
the user's sessions instead of updating them. The sparse index `user_session_keys`
(session_user_id, created_at, projecting session_id only) lists a user's sessions without a
scan; DynamoDB deletes expired items only eventually, so callers compare `expires_at` with
the clock themselves.
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.errors import Unauthenticated
from chalicelib.store.table import (
    SESSIONS_BY_USER,
    Item,
    Table,
    Write,
    delete,
    put,
    update,
)


class SessionRecord(NamedTuple):
    digest: str
    session_id: str
    user_id: str
    email: str
    email_verified: bool
    two_factor_enabled: bool
    two_factor_verified: bool
    created_at: int
    expires_at: int
    absolute_expires_at: int
    last_used_at: int
    user_agent: str
    ip: str
    reauthenticated_at: int = 0  # when this session last re-authenticated (0: never)
    has_password: bool = True
    amr: tuple[str, ...] = ()  # how the user signed in (RFC 8176 names); () before it was kept
    auth_time: int = 0  # when they signed in (0: as created_at, before it was kept)
    roles: tuple[str, ...] = ()
    impersonator_id: str = ""  # an admin impersonating the user ("": none)
    impersonator_email: str = ""
    rotated: bool = False  # started in place of the user's sessions (an account change)
    org_id: str = ""  # the organization the session works in ("": none)
    org_role: str = ""  # the user's role there, as the membership last said


class SessionHandle(NamedTuple):
    """What the index holds of a session: enough to find it, nothing that changes."""

    digest: str
    session_id: str


def session_pk(digest: str) -> str:
    return f"SESSION#{digest}"


class SessionItems:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, digest: str) -> SessionRecord | None:
        item = self._table.get(session_pk(digest))
        return None if item is None else _record(item)

    def put(self, session: SessionRecord) -> Write:
        return put(_item(session), "attribute_not_exists(pk)")

    def delete(self, digest: str, *, living: bool = False) -> Write:
        """The session's delete; with `living`, only of a session that still exists (else
        Unauthenticated): a change made from it must not outlive it."""
        if living:
            return delete(
                session_pk(digest), "attribute_exists(pk)", on_condition_failed=Unauthenticated
            )
        return delete(session_pk(digest))

    def touch(self, digest: str, *, expires_at: int, last_used_at: int) -> bool:
        """Move expiry and last use; False when the session was deleted meanwhile (an update
        never re-creates it). Neither attribute is projected into the index: 1 write unit."""
        return self._table.try_commit(
            update(
                session_pk(digest),
                "SET expires_at = :e, last_used_at = :u",
                "attribute_exists(pk)",
                values={":e": {"N": str(expires_at)}, ":u": {"N": str(last_used_at)}},
            )
        )

    def reauthenticated(self, digest: str, at: int) -> Write:
        """Note a re-authentication on the session; it must still exist (1 write unit)."""
        return update(
            session_pk(digest),
            "SET reauthenticated_at = :at",
            "attribute_exists(pk)",
            values={":at": {"N": str(at)}},
            on_condition_failed=Unauthenticated,
        )

    def set_roles(self, digest: str, roles: tuple[str, ...]) -> bool:
        """The session's user's roles, changed in place (False: the session is gone)."""
        if roles:
            expression, values = "SET role_names = :r", {":r": {"SS": list(roles)}}
        else:
            expression, values = "REMOVE role_names", {}
        return self._table.try_commit(
            update(session_pk(digest), expression, "attribute_exists(pk)", values=values)
        )

    def set_org_role(self, digest: str, org_id: str, role: str | None) -> bool:
        """The session's role in `org_id`, changed in place, if it works there (None: removed
        from it, so it works in none). False: the session is gone or works elsewhere."""
        if role is None:
            expression, values = "REMOVE org_id, org_role", {}
        else:
            expression, values = "SET org_role = :r", {":r": {"S": role}}
        return self._table.try_commit(
            update(
                session_pk(digest),
                expression,
                "org_id = :o",
                values={**values, ":o": {"S": org_id}},
            )
        )

    def set_organization(self, digest: str, org_id: str | None, role: str) -> Write:
        """The session works in `org_id` with `role` (None: in none). For a transaction beside
        the membership's own condition (store.orgs.holds_role)."""
        if org_id is None:
            expression, values = "REMOVE org_id, org_role", {}
        else:
            expression = "SET org_id = :o, org_role = :r"
            values = {":o": {"S": org_id}, ":r": {"S": role}}
        return update(
            session_pk(digest),
            expression,
            "attribute_exists(pk)",
            values=values,
            on_condition_failed=Unauthenticated,
        )

    def remove(self, digest: str) -> SessionRecord | None:
        """Delete a session; returns what was deleted (None if nothing was), in the same call."""
        item = self._table.delete_returning(self.delete(digest))
        return None if item is None else _record(item)

    def handles_of_user(self, user_id: str) -> list[SessionHandle]:
        """The user's sessions as the index has them, newest first (one Query, no scan)."""
        items = self._table.query(
            IndexName=SESSIONS_BY_USER,
            KeyConditionExpression="session_user_id = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
            ScanIndexForward=False,
        )
        return [
            SessionHandle(item["pk"]["S"].removeprefix("SESSION#"), item["session_id"]["S"])
            for item in items
        ]

    def of_user(self, user_id: str) -> list[SessionRecord]:
        """The user's sessions in full, newest first: the index's keys, then the live fields
        from the base table (a session the index still lists but that is gone is skipped)."""
        handles = self.handles_of_user(user_id)
        items = self._table.get_items([session_pk(h.digest) for h in handles])
        found = (items.get(session_pk(h.digest)) for h in handles)
        return [_record(item) for item in found if item is not None]

    def delete_many(self, digests: list[str]) -> None:
        self._table.delete_items([session_pk(d) for d in digests])

    def put_many(self, sessions: list[SessionRecord]) -> None:
        """Write many sessions at once (imports, load tests); unconditional, unlike put."""
        self._table.put_items([_item(s) for s in sessions])


def _item(session: SessionRecord) -> Item:
    item: Item = {
        "pk": {"S": session_pk(session.digest)},
        "session_id": {"S": session.session_id},
        "session_user_id": {"S": session.user_id},
        "email": {"S": session.email},
        "email_verified": {"BOOL": session.email_verified},
        "two_factor_enabled": {"BOOL": session.two_factor_enabled},
        "two_factor_verified": {"BOOL": session.two_factor_verified},
        "created_at": {"N": str(session.created_at)},
        "expires_at": {"N": str(session.expires_at)},
        "absolute_expires_at": {"N": str(session.absolute_expires_at)},
        "last_used_at": {"N": str(session.last_used_at)},
        "user_agent": {"S": session.user_agent},
        "ip": {"S": session.ip},
        "reauthenticated_at": {"N": str(session.reauthenticated_at)},
        "has_password": {"BOOL": session.has_password},
        "amr": {"S": " ".join(session.amr)},
        "auth_time": {"N": str(session.auth_time)},
    }
    if session.roles:
        item["role_names"] = {"SS": list(session.roles)}
    if session.impersonator_id:
        item["impersonator_id"] = {"S": session.impersonator_id}
        item["impersonator_email"] = {"S": session.impersonator_email}
    if session.rotated:  # for its event (chalicelib.events): no new sign-in
        item["rotated"] = {"BOOL": True}
    if session.org_id:
        item["org_id"] = {"S": session.org_id}
        item["org_role"] = {"S": session.org_role}
    return item


def _record(item: Item) -> SessionRecord:
    return SessionRecord(
        digest=item["pk"]["S"].removeprefix("SESSION#"),
        session_id=item["session_id"]["S"],
        user_id=item["session_user_id"]["S"],
        email=item["email"]["S"],
        email_verified=item["email_verified"]["BOOL"],
        two_factor_enabled=item["two_factor_enabled"]["BOOL"],
        two_factor_verified=item["two_factor_verified"]["BOOL"],
        created_at=int(item["created_at"]["N"]),
        expires_at=int(item["expires_at"]["N"]),
        absolute_expires_at=int(item["absolute_expires_at"]["N"]),
        last_used_at=int(item["last_used_at"]["N"]),
        user_agent=item["user_agent"]["S"],
        ip=item["ip"]["S"],
        reauthenticated_at=int(item.get("reauthenticated_at", {}).get("N", "0")),
        # Sessions stored before accounts could lack a password all belong to one with it.
        has_password=item.get("has_password", {}).get("BOOL", True),
        # Sessions stored before these were kept: no methods known, signed in when created.
        amr=tuple(item.get("amr", {}).get("S", "").split()),
        auth_time=int(item.get("auth_time", item["created_at"])["N"]),
        roles=tuple(sorted(item.get("role_names", {}).get("SS", []))),
        impersonator_id=item.get("impersonator_id", {}).get("S", ""),
        impersonator_email=item.get("impersonator_email", {}).get("S", ""),
        rotated=item.get("rotated", {}).get("BOOL", False),
        org_id=item.get("org_id", {}).get("S", ""),
        org_role=item.get("org_role", {}).get("S", ""),
    )
