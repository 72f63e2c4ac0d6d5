"""The organization a session works in: `PUT /auth/session/organization`, and what its role
there permits, for `GET /auth/session` and the access token's claims.

The session carries the organization and the user's role there (chalicelib.sessions), so a
protected request reads nothing more. Choosing one reads the membership and writes the session
in a transaction that holds only while the membership still stands with the role read: a
removal or a role change committed in between fails it (403 not_a_member), instead of leaving
a session with a role that the change's sweep (`SessionManager.set_org_role`) never saw.
"""

from __future__ import annotations

import re

from chalicelib.errors import NotAMember
from chalicelib.flows.context import Access, RequestContext
from chalicelib.sessions import ActiveOrganization, Session

# What an organization's id can be (a uuid, say), and never the '#' of a key's separator: any
# other string is no organization of the user's, refused before any read.
_ORG_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def set_active_organization(ctx: RequestContext, org_id: str | None) -> Session:
    """The session works in `org_id`, one of its user's organizations, with their role there
    (403 not_a_member for any other id), or in none (None). One read and one transaction."""
    session = ctx.require(Access.RESOURCE)
    if org_id is None:
        return ctx.work_in(None)
    if not _ORG_ID.fullmatch(org_id):
        raise NotAMember()
    orgs = ctx.services.store.orgs
    (member,) = ctx.services.store.table.read(orgs.member(org_id, session.user.id))
    if member is None:
        raise NotAMember()
    return ctx.work_in(ActiveOrganization(org_id, member.role), [orgs.holds_role(member)])


def org_permissions(ctx: RequestContext, session: Session) -> tuple[str, ...]:
    """What the user's role in the session's organization permits there, sorted (none when it
    works in none, or the stage no longer defines the role)."""
    if session.organization is None:
        return ()
    return tuple(sorted(ctx.services.org_roles.permissions((session.organization.role,))))
