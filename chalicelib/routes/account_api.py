"""The JSON API of signing in and out, sessions and the account."""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint, Response

from chalicelib import web
from chalicelib.clock import isoformat
from chalicelib.flows import active_org, activity, codes, data_export, signin
from chalicelib.routes.shapes import (
    accepted,
    current_session_json,
    no_content,
    session_json,
    user_json,
)

blueprint = Blueprint(__name__)


@blueprint.route("/auth/signup", methods=["POST"])
def signup() -> Response:
    user = signin.sign_up(web.context(), *web.json_fields("email", "password"))
    if user is None:  # SIGNUP_REVEALS_ACCOUNTS=false: a code (or a notice) is on its way
        return accepted()
    return Response(body={"user": user_json(user)}, status_code=201)


@blueprint.route("/auth/login", methods=["POST"])
def login() -> dict[str, Any]:
    user = signin.log_in(web.context(), *web.json_fields("email", "password"))
    # The new session still owes the second factor: POST /auth/2fa/verify comes next.
    return {"user": user_json(user), "two_factor_required": user.two_factor_enabled}


@blueprint.route("/auth/login/code", methods=["POST"])
def login_code() -> Response:
    codes.request_login_code(web.context(), *web.json_fields("email"))
    return accepted()


@blueprint.route("/auth/login/code/verify", methods=["POST"])
def login_code_verify() -> Response:
    signed_in = codes.log_in_with_code(web.context(), *web.json_fields("email", "code"))
    user = signed_in.user
    body = {"user": user_json(user), "two_factor_required": user.two_factor_enabled}
    return Response(body=body, status_code=201 if signed_in.created else 200)


@blueprint.route("/auth/reauthenticate/code", methods=["POST"])
@web.account_required
def reauthentication_code() -> Response:
    codes.request_reauthentication_code(web.context())
    return accepted()


@blueprint.route("/auth/reauthenticate", methods=["POST"])
@web.account_required
def reauthenticate() -> dict[str, Any]:
    password, code = web.optional_json_field("password"), web.optional_json_field("code")
    until = codes.reauthenticate(web.context(), password, code)
    return {"reauthenticated_until": isoformat(until)}


@blueprint.route("/auth/logout", methods=["POST"])
def logout() -> Response:
    signin.log_out(web.context())
    return no_content()


@blueprint.route("/auth/session", methods=["GET"])
@web.session_required
def session() -> dict[str, Any]:
    current = web.current_session()  # the one read: the organization travels on the session
    return current_session_json(current, active_org.org_permissions(web.context(), current))


@blueprint.route("/auth/session/organization", methods=["PUT"])
@web.login_required
def set_active_organization() -> dict[str, Any]:
    ctx = web.context()
    current = active_org.set_active_organization(ctx, web.nullable_json_field("org_id"))
    return current_session_json(current, active_org.org_permissions(ctx, current))


@blueprint.route("/auth/events", methods=["GET"])
@web.account_required
def list_events() -> dict[str, Any]:
    found = activity.own_events(
        web.context(), web.query_param("cursor"), web.query_limit(activity.MAX_PAGE)
    )
    return {"events": found.events, "next_cursor": found.next_cursor}


@blueprint.route("/auth/sessions", methods=["GET"])
@web.account_required
def list_sessions() -> dict[str, Any]:
    sessions, current_id = signin.list_sessions(web.context())
    return {"sessions": [session_json(s, current_id) for s in sessions]}


@blueprint.route("/auth/sessions/{session_id}", methods=["DELETE"])
@web.account_required
def revoke_session(session_id: str) -> Response:
    signin.revoke_session(web.context(), session_id)
    return no_content()


@blueprint.route("/auth/sessions", methods=["DELETE"])
@web.account_required
def revoke_other_sessions() -> Response:
    signin.revoke_other_sessions(web.context())
    return no_content()


@blueprint.route("/auth/password", methods=["POST"])
@web.account_required
def change_password() -> dict[str, Any]:
    # Without current_password, a recent re-authentication on this session stands in for it
    # (the way an account without a password sets its first one).
    (new_password,) = web.json_fields("new_password")
    current = web.optional_json_field("current_password")
    user = signin.change_password(web.context(), current, new_password)
    return {"user": user_json(user)}


@blueprint.route("/auth/account/export", methods=["GET"])
@web.account_required
def export_account() -> Response:
    """The user's data as a JSON attachment (flows.data_export): a browser saves it as a file."""
    document = data_export.export_own_data(web.context())
    return Response(
        body=json.dumps(document, ensure_ascii=False, indent=2),
        status_code=200,
        headers={
            "Content-Type": "application/json",
            "Content-Disposition": f'attachment; filename="{data_export.FILE_NAME}"',
        },
    )


@blueprint.route("/auth/account", methods=["DELETE"])
@web.account_required
def delete_account() -> Response:
    signin.delete_account(web.context(), web.optional_json_field("password"))
    return no_content()
