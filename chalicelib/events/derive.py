"""What a change means: the events one stream record makes (none, one, or several).

Every event of the catalogue comes from the item that holds what changed: an account's
lifecycle, address, factors, roles and ban from its user item; a password from its email
claim; sign-ins and sign-outs from session items; a membership of an organization from its
membership item (store.orgs), as an event of the member. Each record's events are numbered by their
place in it, so processing a record again gives the same events with the same ids.
"""

from __future__ import annotations

import hashlib
from typing import Any

from chalicelib.clock import isoformat
from chalicelib.store.accounts import BANNED_FOREVER
from chalicelib.store.changes import Change, change_of
from chalicelib.store.events import EventRecord

# How a session's user signed in, from its first method (RFC 8176 amr).
_METHODS = (
    ("fed", "oauth"),
    ("hwk", "passkey"),
    ("mail", "email_code"),
    ("pwd", "password"),
)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def events_of(record: dict[str, Any]) -> list[EventRecord]:
    """The events of one Lambda-shaped DynamoDB Streams record, in order; not yet numbered
    (`seq` 0: store.events gives the user's next number)."""
    change = change_of(record)
    if change is None or not change.user_id:
        return []
    if change.family == "user":
        found = _user_events(change)
    elif change.family == "session":
        found = _session_events(change)
    elif change.family == "member":
        found = _member_events(change)
    else:
        found = _claim_events(change)
    return [
        EventRecord(event_id(change.at_ms, f"{record['eventID']}:{index}"), kind, change.at_ms,
                    change.user_id, 0, data)
        for index, (kind, data) in enumerate(found)
    ]  # fmt: skip


def event_id(at_ms: int, seed: str) -> str:
    """A ULID (26 characters, sortable by time) whose random part comes from `seed`: the same
    record processed again names its events the same."""
    entropy = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:10])
    value = (max(at_ms, 0) & (2**48 - 1)) << 80 | entropy
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _user_events(change: Change) -> list[tuple[str, dict[str, Any]]]:
    old, new = change.old, change.new
    if new is None:
        return [] if old is None or change.by_ttl else [("user.deleted", {"email": old["email"]})]
    if old is None:
        return [
            (
                "user.created",
                {
                    "email": new["email"],
                    "email_verified": new["email_verified"],
                    "has_password": new["has_password"],
                },
            )
        ]
    found: list[tuple[str, dict[str, Any]]] = []
    if old["email"] != new["email"]:
        found.append(
            (
                "user.updated",
                {"changes": ["email"], "email": new["email"], "previous_email": old["email"]},
            )
        )
    if new["email_verified"] and not old["email_verified"]:
        found.append(("user.email_verified", {"email": new["email"]}))
    if new["two_factor"] != old["two_factor"]:
        kind = "user.two_factor_enabled" if new["two_factor"] else "user.two_factor_disabled"
        found.append((kind, {}))
    for added in sorted(new["passkeys"] - old["passkeys"]):
        found.append(("user.passkey_added", {"passkey_id": added}))
    for removed in sorted(old["passkeys"] - new["passkeys"]):
        found.append(("user.passkey_removed", {"passkey_id": removed}))
    for added in sorted(new["identities"] - old["identities"]):
        found.append(("user.identity_linked", {"identity_id": added}))
    for removed in sorted(old["identities"] - new["identities"]):
        found.append(("user.identity_unlinked", {"identity_id": removed}))
    if new["roles"] != old["roles"]:
        found.append(
            (
                "user.roles_changed",
                {
                    "roles": sorted(new["roles"]),
                    "added": sorted(new["roles"] - old["roles"]),
                    "removed": sorted(old["roles"] - new["roles"]),
                },
            )
        )
    if new["banned_until"] and new["banned_until"] != old["banned_until"]:
        until = new["banned_until"]
        found.append(
            (
                "user.banned",
                {
                    "until": None if until >= BANNED_FOREVER else isoformat(until),
                    "reason": new["ban_reason"],
                    "banned_by": new["banned_by"],
                },
            )
        )
    elif old["banned_until"] and not new["banned_until"]:
        found.append(("user.unbanned", {}))
    if new["data_exported_at"] != old["data_exported_at"]:
        found.append(("user.data_exported", {}))
    return found


def _claim_events(change: Change) -> list[tuple[str, dict[str, Any]]]:
    old, new = change.old, change.new
    # A new claim (a sign-up, or an address moving) or a deleted one changes no password.
    if old is None or new is None:
        return []
    if old["has_password"] and not new["has_password"]:
        return [("user.password_changed", {"action": "removed"})]
    if new["has_password"] and not old["has_password"]:
        return [("user.password_changed", {"action": "set"})]
    if new["has_password"] and new["password_changed"] and not new["password_rehashed"]:
        return [("user.password_changed", {"action": "changed"})]
    if new["password_changed"] and old["imported_format"] and not new["imported_format"]:
        # The same password, its imported hash replaced by our own at the first sign-in.
        return [("user.password_upgraded", {"from_format": old["imported_format"]})]
    return []  # a rehash of the same password at sign-in, or no password change at all


def _session_events(change: Change) -> list[tuple[str, dict[str, Any]]]:
    old, new = change.old, change.new
    if old is None and new is not None:
        impersonated = bool(new["impersonator_id"])
        created = (
            "session.created",
            {
                "session_id": new["session_id"],
                "method": "impersonation" if impersonated else _method(new["amr"]),
                "amr": list(new["amr"]),
                # A session that carries on another (an account change rotates the user's
                # sessions into one) is no new sign-in.
                "rotated": new["rotated"],
                "user_agent": new["user_agent"],
                "ip": new["ip"],
            },
        )
        if not impersonated:
            return [created]
        started = {
            "session_id": new["session_id"],
            "impersonator_id": new["impersonator_id"],
            "impersonator_email": new["impersonator_email"],
        }
        return [created, ("impersonation.started", started)]
    if new is None and old is not None:
        # Run out, not revoked: removed by TTL, or by the request that found it expired.
        if change.by_ttl or old["expires_at"] * 1000 <= change.at_ms:
            return []
        return [("session.revoked", {"session_id": old["session_id"]})]
    return []  # extended, used, re-authenticated, its roles updated


def _member_events(change: Change) -> list[tuple[str, dict[str, Any]]]:
    old, new = change.old, change.new
    if old is None and new is not None:
        return [("org.member_added", {"org_id": new["org_id"], "role": new["role"]})]
    if new is None and old is not None:
        return [("org.member_removed", {"org_id": old["org_id"]})]
    if old is not None and new is not None and old["role"] != new["role"]:
        return [
            (
                "org.member_role_changed",
                {"org_id": new["org_id"], "role": new["role"], "previous_role": old["role"]},
            )
        ]
    return []


def _method(amr: tuple[str, ...]) -> str:
    for name, method in _METHODS:
        if name in amr:
            return method
    return "unknown"
