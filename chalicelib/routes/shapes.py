"""How records look in JSON responses: one shape each, shared by every route."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.clock import isoformat
from chalicelib.sessions import ActiveOrganization, Impersonator, Session, SessionSummary
from chalicelib.users import User


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "email_verified": user.email_verified,
        "two_factor_enabled": user.two_factor_enabled,
        "has_password": user.has_password,
        "roles": list(user.roles),
    }


def session_json(session: SessionSummary, current_id: str) -> dict[str, Any]:
    return {
        "id": session.id,
        "created_at": isoformat(session.created_at),
        "last_used_at": isoformat(session.last_used_at),
        "expires_at": isoformat(session.expires_at),
        "user_agent": session.user_agent,
        "ip": session.ip,
        "current": session.id == current_id,
        "impersonator": impersonator_json(session.impersonator),
    }


def current_session_json(session: Session, org_permissions: tuple[str, ...]) -> dict[str, Any]:
    """`GET /auth/session`'s answer: the user, the session, and the organization it works in
    with what the user's role there permits (`org_permissions`, sorted)."""
    return {
        "user": user_json(session.user),
        "session": {
            "expires_at": isoformat(session.expires_at),
            "fresh": session.fresh,
            "two_factor_verified": session.two_factor_verified,
            "impersonator": impersonator_json(session.impersonator),
        },
        "organization": organization_json(session.organization, org_permissions),
    }


def organization_json(
    organization: ActiveOrganization | None, permissions: tuple[str, ...]
) -> dict[str, Any] | None:
    if organization is None:
        return None
    return {"id": organization.id, "role": organization.role, "permissions": list(permissions)}


def impersonator_json(impersonator: Impersonator | None) -> dict[str, str] | None:
    return None if impersonator is None else {"id": impersonator.id, "email": impersonator.email}


def no_content() -> Response:
    return Response(body="", status_code=204)


def accepted() -> Response:
    return Response(body={"status": "accepted"}, status_code=202)
