"""Invitations to an organization: sent by mail with a link that carries a random token,
listed, revoked, previewed and accepted.

- The token (`secrets.token_urlsafe(32)`, 256 bits) travels only in the mail's link; the table
  holds its SHA-256 digest, apart from the invitation's id (a digest of the organization and
  the address, which names the invitation in the API and is no capability). No response and
  no audit line holds the token or its digest.
- One invitation per address: a new one replaces the old, whose token then leads nowhere.
- It lives INVITATION_SECONDS (7 days) and is used once, even under concurrency: accepting
  deletes it on condition that it still holds this token's digest, in the same transaction as
  the membership (store.orgs.accepted), so of N parallel acceptances exactly one succeeds.
- Accepting needs a signed-in user whose address is the invitation's (else 403
  invitation_email_mismatch) and verified (else 403 email_unverified). The address is
  compared first: telling someone signed in with another address to verify theirs would be
  advice that cannot help. (With REQUIRE_VERIFIED_EMAIL, Access.RESOURCE refuses an
  unverified session before either, as for every resource.) An account made for the
  purpose, by any way of signing up, accepts once its address is verified.
- An invitation is only as good as its inviter: accepted, it needs the inviter still a member
  whose role may invite with that role (else 404 invitation_not_found), so demoting or
  removing someone voids what they sent.
- Limits: MAX_PENDING pending invitations an organization (409 too_many_invitations), and
  limits.INVITATION_SENDS sends per inviter an hour (429 with Retry-After).
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import NamedTuple

from chalicelib.audit import Event
from chalicelib.errors import (
    AlreadyMember,
    EmailUnverified,
    ImpersonationForbidden,
    InvitationEmailMismatch,
    InvitationNotFound,
    TooManyInvitations,
)
from chalicelib.flows.context import Access, RequestContext
from chalicelib.flows.orgs import (
    Membership,
    known_role,
    may_grant,
    membership,
    require_permission,
)
from chalicelib.limits import INVITATION_SENDS
from chalicelib.mail import Kind
from chalicelib.roles import MEMBERS_INVITE
from chalicelib.store.orgs import (
    InvitationRecord,
    MemberRecord,
    OrgRecord,
    invitation_id,
    token_digest,
)
from chalicelib.users import normalize_email

INVITATION_DAYS = 7
INVITATION_SECONDS = INVITATION_DAYS * 86_400
MAX_PENDING = 50  # pending invitations an organization
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32)'s shape
_INVITATION_ID = re.compile(r"[0-9a-f]{32}")


class InvitationPreview(NamedTuple):
    """What the invitation page shows the holder of its link (a GET: nothing changes)."""

    org_id: str
    organization: str
    inviter_email: str
    email: str
    role: str
    expires_at: int


def invite(ctx: RequestContext, org_id: str, raw_email: str, role: str) -> InvitationRecord:
    """Invite `raw_email` as `role` (members:invite, and a role the inviter holds in full),
    in place of any invitation to that address, and mail it the link."""
    found = membership(ctx, org_id)
    inviter = found.member
    email = normalize_email(raw_email, deliverable=True)
    known_role(ctx, role)
    require_permission(ctx, inviter, MEMBERS_INVITE)
    may_grant(ctx, inviter, role)
    services = ctx.services
    store = services.store
    # Counted before anything is read: an answer (already a member) tells something too.
    services.limits.spend(INVITATION_SENDS, inviter.user_id)
    now = services.clock.now()
    key = invitation_id(org_id, email)
    claim, existing = store.table.read(
        services.users.credentials(email), store.orgs.invitation(org_id, key)
    )
    if claim is not None:
        (already,) = store.table.read(store.orgs.member(org_id, claim.user_id))
        if already is not None:
            raise AlreadyMember("The account with this address is a member already.")
    replaces_a_live_one = existing is not None and existing.expires_at > now
    if not replaces_a_live_one and len(store.orgs.pending(org_id, now)) >= MAX_PENDING:
        raise TooManyInvitations()
    token = secrets.token_urlsafe(32)
    inviter_email = ctx.require(Access.RESOURCE).user.email
    invitation = InvitationRecord(
        org_id=org_id,
        id=key,
        email=email,
        role=role,
        inviter_id=inviter.user_id,
        inviter_email=inviter_email,
        token_digest=token_digest(token),
        created_at=now,
        expires_at=now + INVITATION_SECONDS,
    )
    ctx.commit(*store.orgs.invite(invitation, existing), store.orgs.holds_role(inviter))
    ctx.audit(
        Event.ORG_INVITATION_SENT,
        inviter.user_id,
        org_id=org_id,
        invitation_id=key,
        role=role,
        replaced=int(existing is not None),
    )
    link = ctx.link("/orgs/invitation?token=" + token)
    # A failed send is a 503 with the invitation stored: sending it again replaces it.
    ctx.send_mail(
        Kind.ORG_INVITATION,
        email,
        console=link,
        link=link,
        organization=found.org.name,
        inviter=inviter_email,
        role=role,
        days=INVITATION_DAYS,
    )
    return invitation


def pending(ctx: RequestContext, org_id: str) -> list[InvitationRecord]:
    """The organization's pending invitations, oldest first (members:invite)."""
    found = membership(ctx, org_id)
    require_permission(ctx, found.member, MEMBERS_INVITE)
    return ctx.services.store.orgs.pending(org_id, ctx.services.clock.now())


def revoke(ctx: RequestContext, org_id: str, invitation: str) -> None:
    """The invitation and its token gone (members:invite, and a role the actor could have
    invited with)."""
    found = membership(ctx, org_id)
    actor = found.member
    require_permission(ctx, actor, MEMBERS_INVITE)
    store = ctx.services.store
    record = None
    if _INVITATION_ID.fullmatch(invitation):
        (record,) = store.table.read(store.orgs.invitation(org_id, invitation))
    if record is None or record.expires_at <= ctx.services.clock.now():
        raise InvitationNotFound()
    may_grant(ctx, actor, record.role)
    ctx.commit(*store.orgs.revoked(record), store.orgs.holds_role(actor))
    ctx.audit(Event.ORG_INVITATION_REVOKED, actor.user_id, org_id=org_id, invitation_id=record.id)


def _find(ctx: RequestContext, token: str) -> tuple[InvitationRecord, OrgRecord]:
    """The live invitation `token` opens, and its organization; 404 invitation_not_found for a
    token that is malformed, unknown, used, revoked, replaced or expired, alike."""
    if not _TOKEN.fullmatch(token):
        raise InvitationNotFound()
    store = ctx.services.store
    now = ctx.services.clock.now()
    digest = token_digest(token)
    (found,) = store.table.read(store.orgs.invitation_token(digest))
    if found is None or found.expires_at <= now:
        raise InvitationNotFound()
    invitation, org = store.table.read(
        store.orgs.invitation(found.org_id, found.invitation_id), store.orgs.org(found.org_id)
    )
    if (
        invitation is None
        or org is None
        or invitation.expires_at <= now
        or not hmac.compare_digest(invitation.token_digest, digest)
    ):
        raise InvitationNotFound()
    return invitation, org


def preview(ctx: RequestContext, token: str) -> InvitationPreview:
    """What the invitation's page shows whoever holds its link, signed in or not; reads only."""
    invitation, org = _find(ctx, token)
    return InvitationPreview(
        org_id=org.id,
        organization=org.name,
        inviter_email=invitation.inviter_email,
        email=invitation.email,
        role=invitation.role,
        expires_at=invitation.expires_at,
    )


def accept(ctx: RequestContext, token: str) -> Membership:
    """The signed-in user joins the organization with the invitation's role, using it up.
    Their own consent: an admin impersonating them may not accept for them (403)."""
    session = ctx.require(Access.RESOURCE)
    if session.impersonator is not None:
        raise ImpersonationForbidden()
    user = session.user
    invitation, org = _find(ctx, token)
    if user.email != invitation.email:
        raise InvitationEmailMismatch()
    if not user.email_verified:
        raise EmailUnverified()
    store = ctx.services.store
    roles = ctx.services.org_roles
    already, inviter = store.table.read(
        store.orgs.member(org.id, user.id), store.orgs.member(org.id, invitation.inviter_id)
    )
    if already is not None:
        raise AlreadyMember()
    if (
        inviter is None
        or not roles.grants([inviter.role], MEMBERS_INVITE)
        or not roles.may_grant([inviter.role], [invitation.role])
    ):
        raise InvitationNotFound("The person who sent this invitation can no longer invite.")
    now = ctx.services.clock.now()
    member = MemberRecord(org.id, user.id, user.email, invitation.role, now, inviter.user_id)
    ctx.commit(*store.orgs.accepted(invitation, member, inviter, now))
    ctx.audit(
        Event.ORG_INVITATION_ACCEPTED,
        user.id,
        org_id=org.id,
        invitation_id=invitation.id,
        role=invitation.role,
    )
    return Membership(org._replace(member_count=org.member_count + 1), member)
