"""The admin API (JSON, under /admin/): users found, looked at, banned, signed out, given
roles, deleted and impersonated. Who may do what is flows.admin's to decide."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import web
from chalicelib.clock import isoformat
from chalicelib.flows import activity, admin
from chalicelib.routes.shapes import impersonator_json, no_content, session_json, user_json
from chalicelib.store.accounts import BANNED_FOREVER, Ban
from chalicelib.store.directory import Listed
from chalicelib.users import user_of_item

blueprint = Blueprint(__name__)


def _until_json(until: int) -> str | None:
    return None if until >= BANNED_FOREVER else isoformat(until)


def _listed_json(listed: Listed, now: int) -> dict[str, Any]:
    banned = now < listed.banned_until
    return {
        "id": listed.user_id,
        "email": listed.email,
        "email_verified": listed.email_verified,
        "roles": list(listed.roles),
        "status": "banned" if banned else "active",
        "banned_until": _until_json(listed.banned_until) if banned else None,
        "created_at": isoformat(listed.created_at),
    }


def _ban_json(ban: Ban | None, now: int) -> dict[str, Any] | None:
    if ban is None or now >= ban.until:
        return None
    return {
        "banned_at": isoformat(ban.at),
        "until": _until_json(ban.until),
        "reason": ban.reason,
        "by": ban.by or None,
    }


@blueprint.route("/admin/users/{user_id}/events", methods=["GET"])
@web.account_required
def user_events(user_id: str) -> dict[str, Any]:
    limit = web.query_limit(activity.MAX_PAGE)
    found = admin.user_events(web.context(), user_id, web.query_param("cursor"), limit)
    return {"events": found.events, "next_cursor": found.next_cursor}


@blueprint.route("/admin/users", methods=["GET"])
@web.account_required
def search_users() -> dict[str, Any]:
    query = web.query_param("query") or ""
    found = admin.search(
        web.context(),
        query,
        role=web.query_param("role") or None,
        status=web.query_param("status") or None,
        cursor=web.query_param("cursor") or None,
        limit=web.query_limit(admin.MAX_PAGE),
    )
    now = web.context().services.clock.now()
    return {
        "users": [_listed_json(listed, now) for listed in found.users],
        "next_cursor": admin.encode_cursor(found.after, query),
    }


@blueprint.route("/admin/users/{user_id}", methods=["GET"])
@web.account_required
def view_user(user_id: str) -> dict[str, Any]:
    details = admin.view(web.context(), user_id)
    item = details.item
    now = web.context().services.clock.now()
    return {
        "user": {
            **user_json(user_of_item(item)),
            "created_at": isoformat(item.created_at),
            "status": "banned" if _ban_json(item.ban, now) else "active",
        },
        "two_factor_enabled": item.two_factor,
        "ban": _ban_json(item.ban, now),
        "sessions": [session_json(s, "") for s in details.sessions],
        "identities": [
            {
                "id": record.id,
                "provider": record.provider,
                "email": record.email,
                "created_at": isoformat(record.created_at),
                "last_used_at": isoformat(record.last_used_at) if record.last_used_at else None,
            }
            for record in details.identities
        ],
        "passkeys": [
            {
                "name": record.name,
                "created_at": isoformat(record.created_at),
                "last_used_at": isoformat(record.last_used_at) if record.last_used_at else None,
            }
            for record in details.passkeys
        ],
    }


@blueprint.route("/admin/users/{user_id}/ban", methods=["POST"])
@web.account_required
def ban_user(user_id: str) -> dict[str, Any]:
    reason = web.optional_json_field("reason")
    ban = admin.ban(web.context(), user_id, reason, web.optional_json_field("until"))
    return {"ban": _ban_json(ban, ban.at)}


@blueprint.route("/admin/users/{user_id}/unban", methods=["POST"])
@web.account_required
def unban_user(user_id: str) -> Response:
    admin.unban(web.context(), user_id)
    return no_content()


@blueprint.route("/admin/users/{user_id}/sign-out", methods=["POST"])
@web.account_required
def sign_out_user(user_id: str) -> Response:
    admin.sign_out(web.context(), user_id)
    return no_content()


@blueprint.route("/admin/users/{user_id}/roles", methods=["PUT"])
@web.account_required
def set_roles(user_id: str) -> dict[str, Any]:
    roles = web.json_string_list("roles")
    return {"roles": list(admin.set_roles(web.context(), user_id, roles))}


@blueprint.route("/admin/users/{user_id}", methods=["DELETE"])
@web.account_required
def delete_user(user_id: str) -> Response:
    admin.delete(web.context(), user_id)
    return no_content()


@blueprint.route("/admin/users/{user_id}/impersonate", methods=["POST"])
@web.account_required
def impersonate_user(user_id: str) -> dict[str, Any]:
    session = admin.impersonate(web.context(), user_id, web.optional_json_field("reason"))
    return {
        "user": user_json(session.user),
        "session": {
            "expires_at": isoformat(session.expires_at),
            "impersonator": impersonator_json(session.impersonator),
        },
    }


@blueprint.route("/admin/events/replay", methods=["POST"])
@web.account_required
def replay_events() -> Response:
    since, url = web.json_fields("since", "url")
    replay = admin.replay_events(web.context(), since, url)
    body = {
        "replay": {
            "url": replay.url,
            "since": isoformat(replay.since),
            "until": isoformat(replay.until),
        }
    }
    return Response(body=body, status_code=202)
