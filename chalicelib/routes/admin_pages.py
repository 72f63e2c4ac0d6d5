"""The admin pages: user search, and a user's page with every action of the admin API, each
asking for confirmation (a box to tick). They call the same flows as the JSON API
(flows.admin), so every rule (permissions, a second factor, a fresh re-authentication, no
escalation, the last admin) holds here as there; a refusal is the page again with its
message, under the error's status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib import pages, web
from chalicelib.errors import AppError, InvalidRequest
from chalicelib.flows import admin, codes

blueprint = Blueprint(__name__)

_PAGE_FIELDS = {"invalid_credentials": "password"}


def _query(name: str) -> str:
    return (web.current_request().query_params or {}).get(name, "")


@blueprint.route("/admin", methods=["GET"])
@web.account_page_required
def search_page() -> Response:
    query, role, status, cursor = (
        _query("query"),
        _query("role"),
        _query("status"),
        _query("cursor"),
    )
    request = web.current_request()
    ctx = web.context()
    try:
        found = admin.search(
            ctx, query, role=role or None, status=status or None, cursor=cursor or None, limit=None
        )
    except AppError as error:
        return pages.form_page(
            request, "admin.html", error=error, form="search", allowed=_allowed(error),
            query=query, role=role, status_filter=status, users=[], next_cursor=None,
            roles=ctx.services.roles.names, now=ctx.services.clock.now(), notice=None,
        )  # fmt: skip
    return pages.form_page(
        request,
        "admin.html",
        allowed=True,
        query=query,
        role=role,
        status_filter=status,
        users=found.users,
        next_cursor=admin.encode_cursor(found.after, query),
        roles=ctx.services.roles.names,
        now=ctx.services.clock.now(),
        notice=pages.notice(request),
    )


def _allowed(error: AppError) -> bool:
    """Whether the page may show its search form after `error` (not to one who may not)."""
    return error.code in ("invalid_request", "unknown_role")


@blueprint.route("/admin/user/{user_id}", methods=["GET"])
@web.account_page_required
def user_page(user_id: str) -> Response:
    return _user_page(user_id)


def _user_page(user_id: str, error: AppError | None = None, form: str | None = None) -> Response:
    ctx = web.context()
    request = web.current_request()
    try:
        details = admin.view(ctx, user_id)
    except AppError as failed:
        return pages.form_page(
            request, "admin_user.html", error=failed, form="view", details=None,
            user_id=user_id, roles=ctx.services.roles.names, now=ctx.services.clock.now(),
            reauthenticated=False, notice=None,
        )  # fmt: skip
    return pages.form_page(
        request,
        "admin_user.html",
        error=error,
        form=form,
        field_of=_PAGE_FIELDS,
        details=details,
        user_id=user_id,
        roles=ctx.services.roles.names,
        now=ctx.services.clock.now(),
        reauthenticated=ctx.recently_reauthenticated(),
        notice=None if error else pages.notice(request),
    )


def _action(
    user_id: str, form: str, run: Callable[[dict[str, str]], Any], success: str
) -> Response:
    """A confirmed form's action, then `success`; or the user's page with the error."""
    request = web.current_request()
    names = ("confirm", "reason", "until")
    fields = dict(zip(names, web.form_fields(request, *names), strict=True))
    try:
        if fields["confirm"] != "yes":
            raise InvalidRequest("Tick the box to confirm.")
        run(fields)
    except AppError as error:
        return _user_page(user_id, error, form)
    return pages.redirect(request, success)


@blueprint.route("/admin/user/{user_id}/ban", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def ban_form(user_id: str) -> Response:
    def run(fields: dict[str, str]) -> None:
        until = fields["until"].strip()
        if until and "T" in until and until[-1] != "Z" and "+" not in until:
            until += "Z"  # a datetime-local input says nothing of its zone: UTC, as the page says
        admin.ban(web.context(), user_id, fields["reason"], until or None)

    return _action(user_id, "ban", run, f"/admin/user/{user_id}?notice=user-banned")


@blueprint.route("/admin/user/{user_id}/unban", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def unban_form(user_id: str) -> Response:
    return _action(
        user_id,
        "unban",
        lambda _: admin.unban(web.context(), user_id),
        f"/admin/user/{user_id}?notice=user-unbanned",
    )


@blueprint.route("/admin/user/{user_id}/sign-out", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def sign_out_form(user_id: str) -> Response:
    return _action(
        user_id,
        "sign-out",
        lambda _: admin.sign_out(web.context(), user_id),
        f"/admin/user/{user_id}?notice=user-signed-out",
    )


@blueprint.route("/admin/user/{user_id}/roles", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def roles_form(user_id: str) -> Response:
    def run(_: dict[str, str]) -> None:
        admin.set_roles(web.context(), user_id, web.form_values(web.current_request(), "role"))

    return _action(user_id, "roles", run, f"/admin/user/{user_id}?notice=roles-changed")


@blueprint.route("/admin/user/{user_id}/delete", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def delete_form(user_id: str) -> Response:
    return _action(
        user_id,
        "delete",
        lambda _: admin.delete(web.context(), user_id),
        "/admin?notice=user-deleted",
    )


@blueprint.route("/admin/user/{user_id}/impersonate", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def impersonate_form(user_id: str) -> Response:
    return _action(
        user_id,
        "impersonate",
        lambda fields: admin.impersonate(web.context(), user_id, fields["reason"]),
        "/training",
    )


@blueprint.route("/admin/user/{user_id}/reauthenticate", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def reauthenticate_form(user_id: str) -> Response:
    """The admin confirms it is them (the password) before the changes on this page."""
    (password,) = web.form_fields(web.current_request(), "password")
    try:
        codes.reauthenticate(web.context(), password or None, None)
    except AppError as error:
        return _user_page(user_id, error, "reauthenticate")
    return pages.redirect(web.current_request(), f"/admin/user/{user_id}?notice=reauthenticated")
