"""Organizations' JSON API (under /orgs): organizations, their members and invitations. Like
every resource of the service, each route needs a signed-in user (`login_required`); who may do
what within an organization is flows.orgs' and flows.invitations' to decide."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import web
from chalicelib.clock import isoformat
from chalicelib.flows import invitations, orgs
from chalicelib.flows.orgs import Membership
from chalicelib.routes.shapes import no_content
from chalicelib.store.orgs import InvitationRecord, MemberRecord

blueprint = Blueprint(__name__)


def organization_json(found: Membership) -> dict[str, Any]:
    org = found.org
    return {
        "id": org.id,
        "name": org.name,
        "slug": org.slug,
        "role": found.member.role,
        "created_at": isoformat(org.created_at),
    }


def _member_json(member: MemberRecord) -> dict[str, Any]:
    return {
        "user_id": member.user_id,
        "email": member.email,
        "role": member.role,
        "joined_at": isoformat(member.joined_at),
    }


def _invitation_json(invitation: InvitationRecord) -> dict[str, Any]:
    """Never the token, nor its digest."""
    return {
        "id": invitation.id,
        "email": invitation.email,
        "role": invitation.role,
        "expires_at": isoformat(invitation.expires_at),
        "invited_by": {"user_id": invitation.inviter_id, "email": invitation.inviter_email},
    }


@blueprint.route("/orgs", methods=["POST"])
@web.login_required
def create_org() -> Response:
    name, slug = web.json_fields("name", "slug")
    found = orgs.create(web.context(), name, slug)
    return Response(body={"organization": organization_json(found)}, status_code=201)


@blueprint.route("/orgs", methods=["GET"])
@web.login_required
def list_orgs() -> dict[str, Any]:
    return {"organizations": [organization_json(found) for found in orgs.mine(web.context())]}


@blueprint.route("/orgs/{org_id}", methods=["GET"])
@web.login_required
def view_org(org_id: str) -> dict[str, Any]:
    found = orgs.membership(web.context(), org_id)
    return {"organization": {**organization_json(found), "member_count": found.org.member_count}}


@blueprint.route("/orgs/{org_id}", methods=["PATCH"])
@web.login_required
def rename_org(org_id: str) -> dict[str, Any]:
    (name,) = web.json_fields("name")
    return {"organization": organization_json(orgs.rename(web.context(), org_id, name))}


@blueprint.route("/orgs/{org_id}", methods=["DELETE"])
@web.login_required
def delete_org(org_id: str) -> Response:
    orgs.delete(web.context(), org_id)
    return no_content()


@blueprint.route("/orgs/{org_id}/members", methods=["GET"])
@web.login_required
def list_members(org_id: str) -> dict[str, Any]:
    found, next_cursor = orgs.members(
        web.context(),
        org_id,
        web.query_param("cursor") or None,
        web.query_limit(orgs.MAX_PAGE),
    )
    return {"members": [_member_json(member) for member in found], "next_cursor": next_cursor}


@blueprint.route("/orgs/{org_id}/members/{user_id}", methods=["PATCH"])
@web.login_required
def set_member_role(org_id: str, user_id: str) -> dict[str, Any]:
    (role,) = web.json_fields("role")
    return {"member": _member_json(orgs.set_role(web.context(), org_id, user_id, role))}


@blueprint.route("/orgs/{org_id}/members/{user_id}", methods=["DELETE"])
@web.login_required
def remove_member(org_id: str, user_id: str) -> Response:
    orgs.remove(web.context(), org_id, user_id)
    return no_content()


@blueprint.route("/orgs/{org_id}/leave", methods=["POST"])
@web.login_required
def leave_org(org_id: str) -> Response:
    orgs.leave(web.context(), org_id)
    return no_content()


@blueprint.route("/orgs/{org_id}/invitations", methods=["POST"])
@web.login_required
def invite(org_id: str) -> Response:
    email, role = web.json_fields("email", "role")
    invitation = invitations.invite(web.context(), org_id, email, role)
    return Response(body={"invitation": _invitation_json(invitation)}, status_code=201)


@blueprint.route("/orgs/{org_id}/invitations", methods=["GET"])
@web.login_required
def list_invitations(org_id: str) -> dict[str, Any]:
    found = invitations.pending(web.context(), org_id)
    return {"invitations": [_invitation_json(invitation) for invitation in found]}


@blueprint.route("/orgs/{org_id}/invitations/{invitation_id}", methods=["DELETE"])
@web.login_required
def revoke_invitation(org_id: str, invitation_id: str) -> Response:
    invitations.revoke(web.context(), org_id, invitation_id)
    return no_content()


@blueprint.route("/orgs/invitations/accept", methods=["POST"])
@web.login_required
def accept_invitation() -> dict[str, Any]:
    (token,) = web.json_fields("token")
    found = invitations.accept(web.context(), token)
    return {"organization": organization_json(found), "role": found.member.role}
