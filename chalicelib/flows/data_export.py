"""A user takes their data with them (GDPR article 20): GET /auth/account/export.

Everything the service keeps about the user that is theirs to read, as one JSON document: the
profile and roles, the sign-in identities, the passkeys (names and dates), the organizations
and their role in each, the live sessions, and the event log. Never a secret, hash, code or
key: no password hash, no authenticator-app secret, no recovery code, no passkey's public key,
no token or its digest.

The owner's own session only (an impersonating admin gets no copy), at most
DATA_EXPORTS.max a day per user, audited, and marked on the user item (`data_exported_at`),
which makes the event `user.data_exported` (chalicelib.events).
"""

from __future__ import annotations

from typing import Any

from chalicelib.audit import Event
from chalicelib.clock import isoformat
from chalicelib.errors import Unauthenticated
from chalicelib.flows import activity
from chalicelib.flows.context import RequestContext
from chalicelib.limits import DATA_EXPORTS
from chalicelib.sessions import SessionSummary

FORMAT_VERSION = 1
FILE_NAME = "my-account-data.json"


def export_own_data(ctx: RequestContext) -> dict[str, Any]:
    current = ctx.require_owner()
    services = ctx.services
    store = services.store
    user_id = current.user.id
    services.limits.spend(DATA_EXPORTS, user_id)
    (owner,) = store.table.read(store.accounts.user(user_id))
    if owner is None:  # deleted a moment ago
        raise Unauthenticated()
    now = services.clock.now()
    identities = store.identities.all_of(owner.identities) if owner.identities else []
    passkeys = store.passkeys.all_of(owner) if owner.passkeys else []
    document = {
        "format": FORMAT_VERSION,
        "exported_at": isoformat(now),
        "user": {
            "id": owner.user_id,
            "email": owner.email,
            "email_verified": owner.email_verified,
            "created_at": isoformat(owner.created_at) if owner.created_at else None,
            "has_password": owner.has_password,
            "two_factor": owner.two_factor,
            "authenticator_app": owner.totp,
            "recovery_codes_left": len(owner.recovery_codes - owner.used_recovery_codes),
            "roles": list(owner.roles),
            "banned_until": None if owner.ban is None else isoformat(owner.ban.until),
        },
        "identities": [
            {
                "provider": record.provider,
                "issuer": record.issuer,
                "subject": record.subject,
                "email": record.email,
                "linked_at": isoformat(record.created_at),
                "last_used_at": isoformat(record.last_used_at),
            }
            for record in identities
            if record.user_id == user_id
        ],
        "passkeys": [
            {
                "name": record.name,
                "created_at": isoformat(record.created_at),
                "last_used_at": isoformat(record.last_used_at),
                "synced": record.backed_up,
            }
            for record in passkeys
        ],
        "organizations": [
            {
                "id": org.id,
                "name": org.name,
                "slug": org.slug,
                "role": member.role,
                "joined_at": isoformat(member.joined_at),
            }
            for org, member in store.orgs.memberships(user_id, owner.orgs)
            if org is not None and member is not None
        ],
        "sessions": [
            _session(summary, current.id) for summary in services.sessions.list_sessions(user_id)
        ],
        "events": _every_event(ctx, user_id),
    }
    ctx.commit(store.accounts.data_exported(user_id, now))
    ctx.audit(Event.DATA_EXPORTED, user_id)
    return document


def _every_event(ctx: RequestContext, user_id: str) -> list[dict[str, Any]]:
    """The user's event log as kept (EVENT_RETENTION), newest first, a page at a time."""
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = activity.page_of(ctx, user_id, cursor, activity.MAX_PAGE)
        events.extend(page.events)
        if page.next_cursor is None:
            return events
        cursor = page.next_cursor


def _session(summary: SessionSummary, current_id: str) -> dict[str, Any]:
    return {
        "id": summary.id,
        "current": summary.id == current_id,
        "created_at": isoformat(summary.created_at),
        "last_used_at": isoformat(summary.last_used_at),
        "expires_at": isoformat(summary.expires_at),
        "user_agent": summary.user_agent,
        "ip": summary.ip,
        "impersonator": None if summary.impersonator is None else summary.impersonator.email,
    }
