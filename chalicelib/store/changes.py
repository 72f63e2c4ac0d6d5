"""The table's stream, read back: one stream record as a change to a user, a claim, a session or
a membership of an organization.

The stream (NEW_AND_OLD_IMAGES) carries every item write that landed, each with the item
before and after; this module alone knows which keys and attributes they hold, and hands
chalicelib.events plain views of the fields events are made of. Nothing secret is in a view:
of a password hash, only whether there is one, whether it changed, and the name of an
imported one's format.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from chalicelib.store.table import Item

# TTL's deletes are made by DynamoDB itself, and say so (Streams' userIdentity).
_TTL_PRINCIPAL = "dynamodb.amazonaws.com"


class Change(NamedTuple):
    family: str  # "user", "claim", "session" or "member"
    user_id: str
    old: dict[str, Any] | None  # the view before (None: the item was created)
    new: dict[str, Any] | None  # after (None: it was deleted)
    at_ms: int  # when the write happened (the stream's approximate time), epoch milliseconds
    by_ttl: bool  # deleted by DynamoDB's TTL, not by a request


def change_of(record: dict[str, Any]) -> Change | None:
    """The change a Lambda-shaped stream record describes (None: not a user's, claim's,
    session's or membership's, or a write that events ignore). A membership's change is its
    member's."""
    dynamodb = record["dynamodb"]
    pk = dynamodb["Keys"]["pk"]["S"]
    old, new = dynamodb.get("OldImage"), dynamodb.get("NewImage")
    identity = record.get("userIdentity") or {}
    by_ttl = identity.get("type") == "Service" and identity.get("principalId") == _TTL_PRINCIPAL
    at_ms = int(float(dynamodb.get("ApproximateCreationDateTime", 0)) * 1000)
    if pk.startswith("USER#"):
        user_id = pk.removeprefix("USER#")
        return Change("user", user_id, _user(old), _user(new), at_ms, by_ttl)
    if pk.startswith("SESSION#"):
        image = new or old or {}
        user_id = image.get("session_user_id", {}).get("S", "")
        return Change("session", user_id, _session(old), _session(new), at_ms, by_ttl)
    if pk.startswith("MEMBER#"):
        image = new or old or {}
        user_id = image.get("member_user_id", {}).get("S", "")
        return Change("member", user_id, _member(old), _member(new), at_ms, by_ttl)
    if pk.startswith("EMAIL#"):
        image = new or old or {}
        user_id = image.get("user_id", {}).get("S", "")
        claim_old, claim_new = _claim(old), _claim(new)
        if claim_old is not None and claim_new is not None:
            same = old.get("password_hash") == new.get("password_hash")  # type: ignore[union-attr]
            claim_new["password_changed"] = not same
        return Change("claim", user_id, claim_old, claim_new, at_ms, by_ttl)
    return None


def _strings(item: Item, name: str) -> frozenset[str]:
    return frozenset(item.get(name, {}).get("SS", []))


def _number(item: Item, name: str) -> int:
    return int(item.get(name, {}).get("N", "0"))


def _text(item: Item, name: str) -> str:
    return str(item.get(name, {}).get("S", ""))


def _flag(item: Item, name: str, default: bool = False) -> bool:
    return bool(item.get(name, {}).get("BOOL", default))


def _user(item: Item | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {
        "email": _text(item, "email"),
        "email_verified": _flag(item, "email_verified"),
        "two_factor": _flag(item, "two_factor"),
        "has_password": _flag(item, "has_password", True),
        "passkeys": _strings(item, "passkeys"),
        "identities": _strings(item, "identities"),
        "roles": _strings(item, "role_names"),
        "banned_until": _number(item, "banned_until"),
        "ban_reason": _text(item, "ban_reason"),
        "banned_by": _text(item, "banned_by"),
        "data_exported_at": _number(item, "data_exported_at"),
    }


def _session(item: Item | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {
        "session_id": _text(item, "session_id"),
        "amr": tuple(_text(item, "amr").split()),
        "expires_at": _number(item, "expires_at"),
        "user_agent": _text(item, "user_agent"),
        "ip": _text(item, "ip"),
        "impersonator_id": _text(item, "impersonator_id"),
        "impersonator_email": _text(item, "impersonator_email"),
        "rotated": _flag(item, "rotated"),
    }


def _member(item: Item | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {"org_id": _text(item, "member_org_id"), "role": _text(item, "member_role")}


def _claim(item: Item | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {
        "has_password": "password_hash" in item,
        "password_rehashed": _flag(item, "password_rehashed"),
        "imported_format": _imported_format(_text(item, "password_hash")),
    }


def _imported_format(password_hash: str) -> str:
    """The format of a hash imported from another system ("": ours, or none). Its name only:
    the import format's JSON (chalicelib.password_formats) holds the hash beside it."""
    if not password_hash.startswith("{"):
        return ""
    try:
        return str(json.loads(password_hash).get("format", "unknown"))
    except (ValueError, AttributeError):
        return "unknown"
