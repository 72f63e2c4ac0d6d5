"""The organizations' pages: creating one, an organization's page (its members and their roles,
the pending invitations, renaming, leaving, deleting), the invitation link's page, and the
switcher's form (the settings page lists the user's organizations).

Each form posts to its own route, which calls the same flow as the JSON API (flows.orgs,
flows.invitations, flows.active_org) and answers with a redirect and a notice, or the page
again with the error next to its form. A page shows only the controls the viewer's role allows;
the flows refuse the rest anyway.

GET /orgs/{org_id} is the JSON API's (a route is a page or the API, never both), so an
organization's page is /orgs/{org_id}/page and its forms post under it, as the settings'
forms post under /settings. The invitation page is at the path its mail links to
(flows.invitations): opening it reads, and only its button accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from chalice import Blueprint, Response

from chalicelib import pages, web
from chalicelib.errors import (
    AppError,
    EmailUnverified,
    InvalidRequest,
    InvitationEmailMismatch,
    TwoFactorRequired,
)
from chalicelib.flows import active_org, invitations, orgs
from chalicelib.flows.context import Access, RequestContext
from chalicelib.flows.invitations import InvitationPreview
from chalicelib.roles import (
    MEMBERS_INVITE,
    MEMBERS_REMOVE,
    MEMBERS_SET_ROLE,
    ORG_DELETE,
    ORG_UPDATE,
)
from chalicelib.routes.pages import kept_next
from chalicelib.routes.settings_pages import settings_action

blueprint = Blueprint(__name__)

INVITATION_PAGE = "/orgs/invitation"


# -- the switcher (on the settings page) -------------------------------------------------------


@blueprint.route("/settings/organization", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def switch_organization_form() -> Response:
    """The session works in the chosen organization (`org_id`), or in none (empty); then back
    to the settings, or to `next` (an organization's page offers the same choice)."""
    org_id, raw_next = web.form_fields(web.current_request(), "org_id", "next")
    notice = "organization-switched" if org_id else "no-organization"
    return settings_action(
        lambda: active_org.set_active_organization(web.context(), org_id or None),
        kept_next(raw_next) or f"/settings?notice={notice}",
        form="organization",
    )


# -- creating one --------------------------------------------------------------------------------


@blueprint.route("/orgs/new", methods=["GET"])
@web.login_page_required
def new_org_page() -> Response:
    return _new_page()


@blueprint.route("/orgs/new", methods=["POST"], content_types=[web.FORM])
@web.login_page_required
def new_org_form() -> Response:
    name, slug = web.form_fields(web.current_request(), "name", "slug")
    field = ""
    try:
        # Checked one by one first, so that a bad value's message is put by its own field.
        field = "name"
        orgs.check_name(name)
        field = "slug"
        orgs.check_slug(slug)
        field = ""
        found = orgs.create(web.context(), name, slug)
    except AppError as error:
        fields = {"invalid_request": field, "slug_taken": "slug"}
        return _new_page(error, field_of=fields, name=name, slug=slug)
    return pages.redirect(
        web.current_request(), f"/orgs/{found.org.id}/page?notice=organization-created"
    )


def _new_page(
    error: AppError | None = None, *, field_of: dict[str, str] | None = None, **values: str
) -> Response:
    return pages.form_page(
        web.current_request(),
        "org_new.html",
        error=error,
        field_of=field_of,
        **{"name": "", "slug": "", **values},
    )


# -- an organization's page ----------------------------------------------------------------------


@blueprint.route("/orgs/{org_id}/page", methods=["GET"])
@web.login_page_required
def org_page(org_id: str) -> Response:
    return _org_page(org_id)


@blueprint.route("/orgs/{org_id}/page/rename", methods=["POST"], content_types=[web.FORM])
@web.login_page_required
def rename_form(org_id: str) -> Response:
    (name,) = web.form_fields(web.current_request(), "name")
    return _action(
        org_id,
        lambda ctx: orgs.rename(ctx, org_id, name),
        f"/orgs/{org_id}/page?notice=organization-renamed",
        form="rename",
        field_of={"invalid_request": "name"},
    )


@blueprint.route("/orgs/{org_id}/page/delete", methods=["POST"], content_types=[web.FORM])
@web.login_page_required
def delete_form(org_id: str) -> Response:
    (confirm,) = web.form_fields(web.current_request(), "confirm")

    def run(ctx: RequestContext) -> None:
        if confirm != "yes":
            raise InvalidRequest("Tick the box to confirm.")
        orgs.delete(ctx, org_id)

    return _action(org_id, run, "/settings?notice=organization-deleted", form="delete")


@blueprint.route("/orgs/{org_id}/page/leave", methods=["POST"], content_types=[web.FORM])
@web.login_page_required
def leave_form(org_id: str) -> Response:
    return _action(
        org_id,
        lambda ctx: orgs.leave(ctx, org_id),
        "/settings?notice=organization-left",
        form="leave",
    )


@blueprint.route("/orgs/{org_id}/page/role", methods=["POST"], content_types=[web.FORM])
@web.login_page_required
def role_form(org_id: str) -> Response:
    user_id, role = web.form_fields(web.current_request(), "user_id", "role")
    return _action(
        org_id,
        lambda ctx: orgs.set_role(ctx, org_id, user_id, role),
        f"/orgs/{org_id}/page?notice=member-role-changed",
        form=f"role-{user_id}",
    )


@blueprint.route("/orgs/{org_id}/page/remove", methods=["POST"], content_types=[web.FORM])
@web.login_page_required
def remove_form(org_id: str) -> Response:
    (user_id,) = web.form_fields(web.current_request(), "user_id")
    oneself = user_id == web.current_user().id  # removing oneself is leaving (flows.orgs)
    return _action(
        org_id,
        lambda ctx: orgs.remove(ctx, org_id, user_id),
        "/settings?notice=organization-left"
        if oneself
        else f"/orgs/{org_id}/page?notice=member-removed",
        form=f"remove-{user_id}",
    )


@blueprint.route("/orgs/{org_id}/page/invite", methods=["POST"], content_types=[web.FORM])
@web.login_page_required
def invite_form(org_id: str) -> Response:
    email, role = web.form_fields(web.current_request(), "email", "role")
    return _action(
        org_id,
        lambda ctx: invitations.invite(ctx, org_id, email, role),
        f"/orgs/{org_id}/page?notice=invitation-sent",
        form="invite",
        field_of={"invalid_email": "email", "already_member": "email"},
        invite_email=email,
    )


@blueprint.route("/orgs/{org_id}/page/revoke", methods=["POST"], content_types=[web.FORM])
@web.login_page_required
def revoke_form(org_id: str) -> Response:
    (invitation_id,) = web.form_fields(web.current_request(), "invitation_id")
    return _action(
        org_id,
        lambda ctx: invitations.revoke(ctx, org_id, invitation_id),
        f"/orgs/{org_id}/page?notice=invitation-revoked",
        form=f"revoke-{invitation_id}",
    )


def _action(
    org_id: str,
    run: Callable[[RequestContext], object],
    success: str,
    *,
    form: str,
    field_of: dict[str, str] | None = None,
    **values: str,
) -> Response:
    """A form's flow, then `success`; or the organization's page with the error by `form`."""
    try:
        run(web.context())
    except AppError as error:
        return _org_page(org_id, error, form=form, field_of=field_of, **values)
    return pages.redirect(web.current_request(), success)


def _org_page(
    org_id: str,
    error: AppError | None = None,
    *,
    form: str | None = None,
    field_of: dict[str, str] | None = None,
    **values: str,
) -> Response:
    ctx = web.context()
    request = web.current_request()
    try:
        details = _details(ctx, org_id, web.query_param("cursor") or None)
    except AppError as failed:  # not a member (told as not found), a hostile cursor
        return pages.form_page(
            request, "org.html", error=failed, form="view", details=None, notice=None
        )
    if error is not None and form not in _forms_shown(details):
        form = "page"  # its form is not on the viewer's page: the message goes at the top
    return pages.form_page(
        request,
        "org.html",
        error=error,
        form=form,
        field_of=field_of,
        details=details,
        notice=None if error else pages.notice(request),
        **{"invite_email": "", **values},
    )


class Allowed(NamedTuple):
    """What the viewer's role lets them do on the page (the flows decide again)."""

    rename: bool
    delete: bool
    invite: bool
    remove: bool
    set_role: bool


def _details(ctx: RequestContext, org_id: str, cursor: str | None) -> dict[str, Any]:
    """What the organization's page shows its viewer: the members (a page of them), what the
    viewer may do to each, and the pending invitations to whoever may send them."""
    found = orgs.membership(ctx, org_id)
    viewer = found.member
    roles = ctx.services.org_roles
    mine = [viewer.role]
    may = Allowed(
        rename=roles.grants(mine, ORG_UPDATE),
        delete=roles.grants(mine, ORG_DELETE),
        invite=roles.grants(mine, MEMBERS_INVITE),
        remove=roles.grants(mine, MEMBERS_REMOVE),
        set_role=roles.grants(mine, MEMBERS_SET_ROLE),
    )
    members, next_cursor = orgs.members(ctx, org_id, cursor, orgs.MAX_PAGE)

    rows = []
    for member in members:
        may_act = roles.may_act_on(mine, [member.role])
        kept = found.org.is_last_owner(member.user_id, member.role)  # never demoted nor removed
        rows.append(
            {
                "member": member,
                "you": member.user_id == viewer.user_id,
                "set_role": may.set_role and may_act and not kept,
                "remove": may.remove and may_act and not kept and member.user_id != viewer.user_id,
            }
        )
    pending = invitations.pending(ctx, org_id) if may.invite else []
    session = ctx.require(Access.RESOURCE)
    return {
        "org": found.org,
        "viewer": viewer,
        "may": may,
        "grantable": [name for name in roles.names if roles.may_grant(mine, [name])],
        "rows": rows,
        "next_cursor": next_cursor,
        "invitations": [
            {"record": record, "revoke": roles.may_grant(mine, [record.role])} for record in pending
        ],
        "last_owner": found.org.is_last_owner(viewer.user_id, viewer.role),
        "active": session.organization is not None and session.organization.id == org_id,
    }


def _forms_shown(details: dict[str, Any]) -> set[str]:
    """The names of the forms the page shows its viewer (org.html has the same conditions)."""
    may: Allowed = details["may"]
    shown = {"leave"}
    shown |= {name for name, on in (("rename", may.rename), ("delete", may.delete)) if on}
    shown |= {"invite"} if may.invite else set()
    for row in details["rows"]:
        user_id = row["member"].user_id
        shown |= {f"role-{user_id}"} if row["set_role"] else set()
        shown |= {f"remove-{user_id}"} if row["remove"] else set()
    shown |= {f"revoke-{i['record'].id}" for i in details["invitations"] if i["revoke"]}
    return shown


# -- the invitation link's page ------------------------------------------------------------------


@blueprint.route(INVITATION_PAGE, methods=["GET"])
@web.page
def invitation_page() -> Response:
    """What the invitation is, to whoever holds its link; reading it changes nothing."""
    return _invitation_page(web.query_param("token") or "")


@blueprint.route(INVITATION_PAGE, methods=["POST"], content_types=[web.FORM])
@web.page
def accept_invitation_form() -> Response:
    (token,) = web.form_fields(web.current_request(), "token")
    try:
        found = invitations.accept(web.context(), token)
    except AppError as error:
        return _invitation_page(token, error)
    return pages.redirect(
        web.current_request(), f"/orgs/{found.org.id}/page?notice=invitation-accepted"
    )


def _invitation_page(token: str, error: AppError | None = None) -> Response:
    ctx = web.context()
    request = web.current_request()
    try:
        preview = invitations.preview(ctx, token)
    except AppError as failed:
        return pages.form_page(
            request,
            "org_invitation.html",
            error=failed,
            form="accept",
            headers=pages.NO_REFERRER,
            invitation=None,
        )
    session = ctx.session()
    values: dict[str, Any] = {
        "invitation": preview,
        "token": token,
        "signed_in_as": None if session is None else session.user.email,
        "second_factor_owed": session is not None and session.second_factor_owed,
        # Where the sign-in pages send the browser back to (the token's shape is checked).
        "back_here": f"{INVITATION_PAGE}?token={token}",
    }
    if error is not None:
        return pages.form_page(
            request,
            "org_invitation.html",
            error=error,
            form="accept",
            headers=pages.NO_REFERRER,
            **values,
        )
    # Opened by someone who cannot accept it: the flow's own message, beside the button that
    # would get it, told before they press it. A page read, so 200 either way.
    obstacle = _obstacle(ctx, preview) if session is not None else None
    return pages.render(
        request,
        "org_invitation.html",
        headers=pages.NO_REFERRER,
        error=None if obstacle is None else obstacle.message,
        error_field=None,
        error_form=None if obstacle is None else "accept",
        error_code=None if obstacle is None else obstacle.code,
        **values,
    )


def _obstacle(ctx: RequestContext, preview: InvitationPreview) -> AppError | None:
    """What accepting would answer the signed-in viewer before any write (flows.invitations'
    order: the stage's gate, the address, its verification); None if nothing stands in the
    way that the page can tell. The POST asks the flow itself."""
    try:
        session = ctx.require(Access.RESOURCE)
    except TwoFactorRequired:
        return None  # the page offers to finish signing in instead
    except EmailUnverified as unverified:
        return unverified
    if session.user.email != preview.email:
        return InvitationEmailMismatch()
    if not session.user.email_verified:
        return EmailUnverified()
    return None
