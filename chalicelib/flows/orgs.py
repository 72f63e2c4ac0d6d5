"""Organizations: made, listed, renamed and deleted; their members listed, given roles, removed,
and leaving. Invitations are flows.invitations'.

Every flow on an organization starts at `membership`: a signed-in user (Access.RESOURCE, like
every resource of the service) who is a member of it; anyone else is told nothing of it, not
even that it exists (404 not_found). Then the member's role must give the flow's permission
(403 insufficient_permissions), under the rules of no escalation that hold for the stage's
roles (chalicelib.roles, within the organization's roles): an actor grants only a role whose
permissions it holds in full, and acts on no member holding a permission it lacks.

Each change is one transaction with a condition that the actor still holds the role it acted
with (store.orgs.holds_role) and that the member acted on is as read; the organization's
owners are never emptied (409 last_owner), so two owners demoting each other at once leave
one. Every change to a membership is followed by `sessions.set_org_role`: the member's sessions
working in the organization carry it from their next request.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Iterable
from typing import NamedTuple

from chalicelib.audit import Event
from chalicelib.errors import (
    InsufficientPermissions,
    InvalidRequest,
    LastOwner,
    NotFound,
    ServiceUnavailable,
    UnknownRole,
)
from chalicelib.flows.context import Access, RequestContext
from chalicelib.ids import is_id, new_id
from chalicelib.roles import (
    MEMBERS_REMOVE,
    MEMBERS_SET_ROLE,
    ORG_DELETE,
    ORG_UPDATE,
    OWNER,
)
from chalicelib.store.accounts import UserItem
from chalicelib.store.orgs import MemberRecord, OrgRecord
from chalicelib.store.table import Write

logger = logging.getLogger(__name__)

MAX_PAGE = 100  # members a page
DEFAULT_PAGE = 50
MAX_NAME = 100
_SLUG = re.compile(r"[a-z0-9-]{3,40}")
_NO_ORGANIZATION = "There is no organization with this id."
_NO_MEMBER = "No member of this organization has this id."


class Membership(NamedTuple):
    """An organization and one user's membership of it."""

    org: OrgRecord
    member: MemberRecord


# -- who may do what ---------------------------------------------------------------------------


def membership(ctx: RequestContext, org_id: str) -> Membership:
    """The signed-in user's membership of `org_id`, read with the organization in one round
    trip; 404 for an organization that does not exist and for one they are no member of
    alike."""
    user = ctx.require(Access.RESOURCE).user
    if not is_id(org_id):
        raise NotFound(_NO_ORGANIZATION)
    orgs = ctx.services.store.orgs
    org, member = ctx.services.store.table.read(orgs.org(org_id), orgs.member(org_id, user.id))
    if org is None or member is None:
        raise NotFound(_NO_ORGANIZATION)
    return Membership(org, member)


def require_permission(ctx: RequestContext, member: MemberRecord, permission: str) -> None:
    if not ctx.services.org_roles.grants([member.role], permission):
        raise InsufficientPermissions()


def may_grant(ctx: RequestContext, actor: MemberRecord, role: str) -> None:
    """The actor holds every permission of `role` (403 insufficient_permissions)."""
    if not ctx.services.org_roles.may_grant([actor.role], [role]):
        raise InsufficientPermissions()


def known_role(ctx: RequestContext, role: str) -> str:
    if not ctx.services.org_roles.known(role):
        raise UnknownRole("There is no such organization role on this service.")
    return role


def _target(ctx: RequestContext, actor: MemberRecord, user_id: str) -> MemberRecord:
    """The member acted on, if the actor may act on them: they hold no permission the actor
    lacks (403 insufficient_permissions)."""
    if not is_id(user_id):
        raise NotFound(_NO_MEMBER)
    store = ctx.services.store
    (target,) = store.table.read(store.orgs.member(actor.org_id, user_id))
    if target is None:
        raise NotFound(_NO_MEMBER)
    if not ctx.services.org_roles.may_act_on([actor.role], [target.role]):
        raise InsufficientPermissions()
    return target


def _not_the_last_owner(org: OrgRecord, member: MemberRecord) -> None:
    """Told before writing; the write's own condition on the owners holds it under races."""
    if org.is_last_owner(member.user_id, member.role):
        raise LastOwner()


def check_name(name: str) -> str:
    text = name.strip()
    if not 1 <= len(text) <= MAX_NAME or not text.isprintable():
        raise InvalidRequest(f"The name is 1 to {MAX_NAME} printable characters.")
    return text


def check_slug(slug: str) -> str:
    if not _SLUG.fullmatch(slug):
        raise InvalidRequest(
            "The slug is 3 to 40 lower-case letters, digits and hyphens, like 'acme-labs'."
        )
    return slug


# -- organizations -----------------------------------------------------------------------------


def create(ctx: RequestContext, name: str, slug: str) -> Membership:
    """A new organization whose creator is its owner (409 slug_taken; 409
    too_many_organizations past MAX_ORGS_PER_USER)."""
    user = ctx.require(Access.RESOURCE).user
    name, slug = check_name(name), check_slug(slug)
    now = ctx.services.clock.now()
    org = OrgRecord(new_id(), name, slug, now, user.id, frozenset({user.id}), 1)
    member = MemberRecord(org.id, user.id, user.email, OWNER, now)
    ctx.commit(*ctx.services.store.orgs.create(org, member))
    ctx.audit(Event.ORG_CREATED, user.id, org_id=org.id)
    return Membership(org, member)


def mine(ctx: RequestContext) -> list[Membership]:
    """The signed-in user's organizations, by name: the user item's list, then each
    organization and membership in one BatchGetItem."""
    user = ctx.require(Access.RESOURCE).user
    store = ctx.services.store
    (item,) = store.table.read(store.accounts.user(user.id))
    if item is None:
        return []
    found = [
        Membership(org, member)
        for org, member in store.orgs.memberships(user.id, item.orgs)
        if org is not None and member is not None
    ]
    return sorted(found, key=lambda m: (m.org.name.casefold(), m.org.id))


def rename(ctx: RequestContext, org_id: str, name: str) -> Membership:
    found = membership(ctx, org_id)
    require_permission(ctx, found.member, ORG_UPDATE)
    name = check_name(name)
    orgs = ctx.services.store.orgs
    ctx.commit(orgs.renamed(org_id, name), orgs.holds_role(found.member))
    ctx.audit(Event.ORG_RENAMED, found.member.user_id, org_id=org_id)
    return found._replace(org=found.org._replace(name=name))


def delete(ctx: RequestContext, org_id: str) -> None:
    """The organization, its slug, every membership and every invitation (org:delete: owners
    alone), each member's sessions working in it leaving it as their membership goes. A
    deletion too big for one transaction, cut short (the request's budget: an organization of
    thousands may take a few), is taken up again by the same request
    (store.orgs.delete_organization): the organization is gone already, and its owner's own
    membership, removed last, still says who may finish it."""
    user = ctx.require(Access.RESOURCE).user
    if not is_id(org_id):
        raise NotFound(_NO_ORGANIZATION)
    store = ctx.services.store
    org, member = store.table.read(store.orgs.org(org_id), store.orgs.member(org_id, user.id))
    if member is None:
        raise NotFound(_NO_ORGANIZATION)
    require_permission(ctx, member, ORG_DELETE)
    count = 0

    def removed(user_ids: list[str]) -> None:
        nonlocal count
        for user_id in user_ids:
            ctx.services.sessions.set_org_role(user_id, org_id, None)
        count += len(user_ids)

    store.orgs.delete_organization(org, member, removed)
    ctx.audit(Event.ORG_DELETED, user.id, org_id=org_id, members=count)


# -- members -----------------------------------------------------------------------------------


def members(
    ctx: RequestContext, org_id: str, cursor: str | None, limit: int | None
) -> tuple[list[MemberRecord], str | None]:
    """A page of the organization's members in a stable order, and the next page's cursor
    (None: the last page). Any member may list them."""
    membership(ctx, org_id)
    size = DEFAULT_PAGE if limit is None else limit
    if not 1 <= size <= MAX_PAGE:
        raise InvalidRequest(f"limit is 1 to {MAX_PAGE}.")
    page = ctx.services.store.orgs.member_page(org_id, _after(cursor), size)
    return page.members, encode_cursor(page.last)


def encode_cursor(after: str | None) -> str | None:
    """Opaque to clients: where the next page starts."""
    if after is None:
        return None
    return base64.urlsafe_b64encode(after.encode()).decode().rstrip("=")


def _after(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        after = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        raise InvalidRequest("The cursor is not one this listing gave.") from None
    if len(cursor) > 64 or not is_id(after):
        raise InvalidRequest("The cursor is not one this listing gave.")
    return after


def set_role(ctx: RequestContext, org_id: str, user_id: str, role: str) -> MemberRecord:
    """The member's role becomes `role` (members:set_role): only a role the actor holds in
    full, on a member holding nothing the actor lacks; never the last owner's demotion."""
    found = membership(ctx, org_id)
    actor = found.member
    known_role(ctx, role)
    require_permission(ctx, actor, MEMBERS_SET_ROLE)
    target = _target(ctx, actor, user_id)
    may_grant(ctx, actor, role)
    if role == target.role:
        return target
    if role != OWNER:
        _not_the_last_owner(found.org, target)
    orgs = ctx.services.store.orgs
    writes = orgs.role_changed(target, role)
    if target.user_id != actor.user_id:  # its own change already holds on its role as read
        writes.append(orgs.holds_role(actor))
    ctx.commit(*writes)
    ctx.services.sessions.set_org_role(target.user_id, org_id, role)
    ctx.audit(
        Event.ORG_MEMBER_ROLE_CHANGED,
        actor.user_id,
        org_id=org_id,
        member_id=target.user_id,
        role=role,
        previous_role=target.role,
    )
    return target._replace(role=role)


def remove(ctx: RequestContext, org_id: str, user_id: str) -> None:
    """The member leaves the organization (members:remove), if the actor may act on them;
    never its last owner. Removing oneself is leaving."""
    found = membership(ctx, org_id)
    actor = found.member
    if user_id == actor.user_id:
        _leave(ctx, found)
        return
    require_permission(ctx, actor, MEMBERS_REMOVE)
    target = _target(ctx, actor, user_id)
    _not_the_last_owner(found.org, target)
    orgs = ctx.services.store.orgs
    ctx.commit(*orgs.removed(target), orgs.holds_role(actor))
    ctx.services.sessions.set_org_role(target.user_id, org_id, None)
    ctx.audit(Event.ORG_MEMBER_REMOVED, actor.user_id, org_id=org_id, member_id=target.user_id)


def leave(ctx: RequestContext, org_id: str) -> None:
    """Any member may leave, but for the last owner (409 last_owner: make another owner, or
    delete the organization)."""
    _leave(ctx, membership(ctx, org_id))


def _leave(ctx: RequestContext, found: Membership) -> None:
    me = found.member
    _not_the_last_owner(found.org, me)
    ctx.commit(*ctx.services.store.orgs.removed(me))
    ctx.services.sessions.set_org_role(me.user_id, me.org_id, None)
    ctx.audit(Event.ORG_LEFT, me.user_id, org_id=me.org_id)


# -- an account's deletion ---------------------------------------------------------------------


def departures(ctx: RequestContext, account: UserItem) -> list[Write]:
    """What deleting `account` does to its organizations, for the deletion's own transaction:
    each membership ends; an organization it is the only member of goes with it; and while it
    is the last owner of one that has other members, the deletion is refused (409 last_owner:
    hand it over first). At most 3 items an organization (MAX_ORGS_PER_USER of them), so the
    deletion stays within one transaction (tests.test_orgs checks the sum)."""
    if not account.orgs:
        return []
    orgs = ctx.services.store.orgs
    writes: list[Write] = []
    for org, member in orgs.memberships(account.user_id, account.orgs):
        if member is None:
            continue  # the membership ended after the user item was read: its write says so
        if org is None:
            writes.append(orgs.orphaned(member))  # left by a deletion cut short
        elif org.member_count <= 1:
            writes += orgs.dissolved(org, member)
        else:
            if member.role == OWNER and org.owners <= {member.user_id}:
                raise LastOwner(
                    "This account is the last owner of an organization that has other"
                    " members. Make one of them an owner first."
                )
            writes += orgs.removed(member, account_too=False)
    return writes


def sweep_dissolved(ctx: RequestContext, org_ids: Iterable[str]) -> None:
    """After an account's deletion: the invitations of the organizations that went with it
    (none can be accepted without its organization; this only tidies). Best effort: the
    account is gone either way, and TTL removes what is left within days."""
    store = ctx.services.store
    ids = sorted(org_ids)
    if not ids:
        return
    try:
        found = store.table.read(*(store.orgs.org(org_id) for org_id in ids))
        for org_id, org in zip(ids, found, strict=True):
            if org is None:
                store.orgs.sweep_invitations(org_id)
    except ServiceUnavailable:
        logger.exception("account deleted, but its organizations' invitations were not swept")
