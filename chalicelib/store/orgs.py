"""Organizations, their members and their invitations.

- organization: pk `ORG#<org id>`; name, slug, created_at, created_by, owners (a string set of
  the user ids holding `owner`: never emptied while the organization stands, LastOwner),
  member_count.
- slug: pk `ORGSLUG#<slug>`; org_id. Makes a slug belong to at most one organization.
- membership: pk `MEMBER#<org id>#<user id>`; member_org_id (the `org_members` index's
  partition key), member_user_id, member_email (as it was when they joined, for listing),
  member_role, joined_at, invited_by. The user item lists the organizations it belongs to
  (`orgs`, a string set of at most MAX_ORGS_PER_USER; store.accounts), so a user's
  organizations need no index. Every write that makes or ends a membership changes that set
  in the same transaction.
- invitation: pk `INVITE#<org id>#<invitation id>`; member_org_id too (the same index lists an
  organization's pending invitations), email, role, inviter_id, inviter_email, token_digest,
  created_at, expires_at (TTL). Its id is a digest of the organization and the address, so a
  new invitation to the same address replaces the old one; the id is no capability.
- invitation token: pk `INVITETOKEN#<sha256 hex of the token>`; org_id, invitation_id,
  expires_at (TTL). The token itself is never stored; accepting it deletes the invitation on
  condition that it still holds this token's digest, so it is single-use.

The `org_members` index (member_org_id, pk) lists an organization's members (pk prefix
`MEMBER#`) and invitations (`INVITE#`) a page at a time, by Query, never Scan.

An expired invitation is absent everywhere: TTL deletes it within days, so every read here
compares `expires_at` with the time it is given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from chalicelib.errors import (
    AlreadyMember,
    AppError,
    InvitationNotFound,
    LastOwner,
    NotAMember,
    NotFound,
    SlugTaken,
    TooManyOrganizations,
)
from chalicelib.roles import OWNER  # the role the `owners` set follows
from chalicelib.store.accounts import user_pk
from chalicelib.store.table import (
    MAX_TRANSACTION_ITEMS,
    ORG_MEMBERS,
    Conflict,
    Item,
    Read,
    Table,
    Write,
    check,
    delete,
    put,
    update,
)

MAX_ORGS_PER_USER = 20  # the user item's `orgs` set: every one is read to list them
_MEMBER, _INVITE = "MEMBER#", "INVITE#"


class OrgRecord(NamedTuple):
    id: str
    name: str
    slug: str
    created_at: int
    created_by: str
    owners: frozenset[str]
    member_count: int

    def is_last_owner(self, user_id: str, role: str) -> bool:
        """The member is its only owner: never demoted nor removed, and may not leave."""
        return role == OWNER and self.owners <= {user_id}


class MemberRecord(NamedTuple):
    org_id: str
    user_id: str
    email: str
    role: str
    joined_at: int
    invited_by: str = ""  # the inviter's user id ("": the creator)


class InvitationRecord(NamedTuple):
    org_id: str
    id: str
    email: str
    role: str
    inviter_id: str
    inviter_email: str
    token_digest: str
    created_at: int
    expires_at: int


class InvitationToken(NamedTuple):
    """What a token's digest leads to (never the token)."""

    digest: str
    org_id: str
    invitation_id: str
    expires_at: int


class MemberPage(NamedTuple):
    members: list[MemberRecord]
    last: str | None  # the user id to go on after (None: no more)


def org_pk(org_id: str) -> str:
    return f"ORG#{org_id}"


def slug_pk(slug: str) -> str:
    return f"ORGSLUG#{slug}"


def member_pk(org_id: str, user_id: str) -> str:
    return f"{_MEMBER}{org_id}#{user_id}"


def invitation_id(org_id: str, email: str) -> str:
    """An invitation's public id: the same for the same organization and address."""
    return hashlib.sha256(f"{org_id}\n{email}".encode()).hexdigest()[:32]


def invitation_pk(org_id: str, invitation: str) -> str:
    return f"{_INVITE}{org_id}#{invitation}"


def invitation_token_pk(token_digest: str) -> str:
    return f"INVITETOKEN#{token_digest}"


def token_digest(token: str) -> str:
    """What is stored of an invitation's token."""
    return hashlib.sha256(token.encode()).hexdigest()


_ONE = {"N": "1"}
_NAME = {"#n": "name"}  # `name` is one of DynamoDB's reserved words


class OrgItems:
    def __init__(self, table: Table) -> None:
        self._table = table
        self._index = ORG_MEMBERS

    # -- reads ------------------------------------------------------------------------------

    def org(self, org_id: str) -> Read:
        return Read(org_pk(org_id), org_record)

    def member(self, org_id: str, user_id: str) -> Read:
        """The user's membership of the organization (None: not a member)."""
        return Read(member_pk(org_id, user_id), member_record)

    def invitation(self, org_id: str, invitation: str) -> Read:
        return Read(invitation_pk(org_id, invitation), invitation_record)

    def invitation_token(self, digest: str) -> Read:
        def parse(item: Item) -> InvitationToken:
            return InvitationToken(
                digest=digest,
                org_id=item["org_id"]["S"],
                invitation_id=item["invitation_id"]["S"],
                expires_at=int(item["expires_at"]["N"]),
            )

        return Read(invitation_token_pk(digest), parse)

    def memberships(
        self, user_id: str, org_ids: frozenset[str]
    ) -> list[tuple[OrgRecord | None, MemberRecord | None]]:
        """The user's organizations (the user item's `orgs`) with their membership of each,
        in one BatchGetItem (at most 2 x MAX_ORGS_PER_USER keys). Either may be None: the
        organization was deleted, or the membership ended, after the set was read."""
        ordered = sorted(org_ids)
        reads = [r for o in ordered for r in (self.org(o), self.member(o, user_id))]
        records = self._table.read(*reads) if reads else []
        return [(records[2 * i], records[2 * i + 1]) for i in range(len(ordered))]

    def member_page(self, org_id: str, after: str | None, limit: int) -> MemberPage:
        """Members in user id order, `limit` at most, from after the user id `after`: one Query
        of the index (one more item asked for, to tell whether another page follows)."""
        params: dict[str, Any] = {
            "IndexName": self._index,
            "KeyConditionExpression": "member_org_id = :o AND begins_with(pk, :p)",
            "ExpressionAttributeValues": {
                ":o": {"S": org_id},
                ":p": {"S": f"{_MEMBER}{org_id}#"},
            },
            "Limit": limit + 1,
        }
        if after is not None:
            params["ExclusiveStartKey"] = {
                "pk": {"S": member_pk(org_id, after)},
                "member_org_id": {"S": org_id},
            }
        items, _ = self._table.query_page(**params)
        members = [member_record(item) for item in items[:limit]]
        more = len(items) > limit
        return MemberPage(members, members[-1].user_id if more and members else None)

    def pending(self, org_id: str, now: int) -> list[InvitationRecord]:
        """The organization's invitations that have not expired, oldest first (by Query: at
        most the pending limit, and the expired ones TTL has yet to remove)."""
        items = self._table.query(
            IndexName=self._index,
            KeyConditionExpression="member_org_id = :o AND begins_with(pk, :p)",
            FilterExpression="expires_at > :now",
            ExpressionAttributeValues={
                ":o": {"S": org_id},
                ":p": {"S": f"{_INVITE}{org_id}#"},
                ":now": {"N": str(now)},
            },
        )
        return sorted(map(invitation_record, items), key=lambda i: (i.created_at, i.id))

    # -- organizations ----------------------------------------------------------------------

    def create(self, org: OrgRecord, creator: MemberRecord) -> list[Write]:
        """The organization, its slug (SlugTaken), its creator's membership as its owner, and
        the creator's `orgs` (TooManyOrganizations), all or nothing."""
        item: Item = {
            "pk": {"S": org_pk(org.id)},
            "name": {"S": org.name},
            "slug": {"S": org.slug},
            "created_at": {"N": str(org.created_at)},
            "created_by": {"S": org.created_by},
            "owners": {"SS": [creator.user_id]},
            "member_count": _ONE,
        }
        return [
            put(item, "attribute_not_exists(pk)"),
            put(
                {"pk": {"S": slug_pk(org.slug)}, "org_id": {"S": org.id}},
                "attribute_not_exists(pk)",
                on_condition_failed=SlugTaken,
            ),
            put(_member_item(creator), "attribute_not_exists(pk)"),
            self._joins(creator),
        ]

    def renamed(self, org_id: str, name: str) -> Write:
        return update(
            org_pk(org_id),
            "SET #n = :n",
            "attribute_exists(pk)",
            values={":n": {"S": name}},
            names=_NAME,
            on_condition_failed=NotFound,
        )

    def holds_role(
        self, member: MemberRecord, on_condition_failed: Callable[[], AppError] = NotAMember
    ) -> Write:
        """A condition for a transaction that acts on what `member` was read to be (the active
        organization a session carries; the actor of a change; an invitation's inviter): the
        membership still stands, with that role. A removal or a role change committed since
        fails it (NotAMember by default: asked again, it reads the news)."""
        return check(
            member_pk(member.org_id, member.user_id),
            "member_role = :role",
            values={":role": {"S": member.role}},
            on_condition_failed=on_condition_failed,
        )

    def delete_organization(
        self, org: OrgRecord | None, actor: MemberRecord, removed: Callable[[list[str]], None]
    ) -> None:
        """Delete the organization, its slug, every membership (each member's `orgs` entry
        with it) and every invitation; `removed` is told the user ids of the members removed,
        after each write that removes them (for their sessions).

        Up to a transaction's 100 items (about 45 members and invitations) it is one
        transaction, on condition that the member count is the one the index listed (nobody
        joined or left meanwhile: else Conflict, and asked again it reads the news).

        A bigger one goes in two steps. First the organization and its slug go, in one
        transaction with the actor's standing: from then on nobody can join (an acceptance
        needs the organization item), be changed or be invited. Then the index is swept a page
        at a time, the members' removals in transactions of up to 50, the invitations in
        batches, the actor's own membership last, each batch's members told as it goes: a
        sweep cut short (the request's budget, for thousands of members) is taken up again by
        the same DELETE (`org` None: already gone), which the actor can still send."""
        if org is not None and 2 + 2 * org.member_count <= MAX_TRANSACTION_ITEMS:
            members = [member_record(item) for item in self._all(org.id, _MEMBER)]
            invitations = [invitation_record(item) for item in self._all(org.id, _INVITE)]
            if 2 + 2 * len(members) + 2 * len(invitations) <= MAX_TRANSACTION_ITEMS:
                self._delete_at_once(org, actor, members, invitations)
                removed([member.user_id for member in members])
                return
        if org is not None:
            self._table.commit(
                delete(org_pk(org.id)), delete(slug_pk(org.slug)), self.holds_role(actor)
            )
        self._sweep(actor, removed)

    def _delete_at_once(
        self,
        org: OrgRecord,
        actor: MemberRecord,
        members: list[MemberRecord],
        invitations: list[InvitationRecord],
    ) -> None:
        if actor.user_id not in {member.user_id for member in members}:
            raise Conflict()  # the index has yet to show the actor's own membership
        writes = [
            delete(
                org_pk(org.id),
                "member_count = :n",
                values={":n": {"N": str(len(members))}},
                on_condition_failed=Conflict,
            ),
            delete(slug_pk(org.slug)),
        ]
        for member in members:
            if member.user_id == actor.user_id:
                writes.append(_left(member, on_condition_failed=NotAMember))
            else:
                writes.append(delete(member_pk(member.org_id, member.user_id)))
            writes.append(self._leaves(member))
        for invitation in invitations:
            writes += _invitation_gone(invitation)
        self._table.commit(*writes)

    def _sweep(self, actor: MemberRecord, removed: Callable[[list[str]], None]) -> None:
        """What a deleted organization left behind: its invitations, then its members."""
        self.sweep_invitations(actor.org_id)
        batch: list[MemberRecord] = []
        for item in self._all(actor.org_id, _MEMBER):
            member = member_record(item)
            if member.user_id != actor.user_id:
                batch.append(member)
            if len(batch) == MAX_TRANSACTION_ITEMS // 2:
                removed(self._remove_all(batch))
                batch = []
        removed(self._remove_all(batch))
        self._table.commit(_left(actor, on_condition_failed=NotAMember), self._leaves(actor))
        removed([actor.user_id])

    def _remove_all(self, members: list[MemberRecord]) -> list[str]:
        if not members:
            return []
        writes = [w for m in members for w in (_left(m), self._leaves(m))]
        try:
            self._table.commit(*writes)
        except Conflict:
            # One of them changed meanwhile (its account deleted, say): each on its own.
            for member in members:
                self._table.try_commit(self._leaves(member))
            self._table.delete_items([member_pk(m.org_id, m.user_id) for m in members])
        return [m.user_id for m in members]

    def _all(self, org_id: str, prefix: str) -> Iterator[Item]:
        """Every item of the organization in the index under `prefix`, a page at a time."""
        params: dict[str, Any] = {
            "IndexName": self._index,
            "KeyConditionExpression": "member_org_id = :o AND begins_with(pk, :p)",
            "ExpressionAttributeValues": {":o": {"S": org_id}, ":p": {"S": f"{prefix}{org_id}#"}},
        }
        while True:
            items, last = self._table.query_page(**params)
            yield from items
            if last is None:
                return
            params["ExclusiveStartKey"] = last

    # -- memberships --------------------------------------------------------------------------

    def _joins(self, member: MemberRecord) -> Write:
        """The member's user item lists the organization: never past MAX_ORGS_PER_USER
        (TooManyOrganizations), never into an account deleted meanwhile."""
        return update(
            user_pk(member.user_id),
            "ADD orgs :o",
            "attribute_exists(pk) AND (attribute_not_exists(orgs) OR size(orgs) < :max)",
            values={":o": {"SS": [member.org_id]}, ":max": {"N": str(MAX_ORGS_PER_USER)}},
            on_condition_failed=TooManyOrganizations,
        )

    def _leaves(self, member: MemberRecord) -> Write:
        return update(
            user_pk(member.user_id),
            "DELETE orgs :o",
            "attribute_exists(pk)",
            values={":o": {"SS": [member.org_id]}},
            on_condition_failed=Conflict,
        )

    def role_changed(self, member: MemberRecord, role: str) -> list[Write]:
        """The member's role becomes `role`, only while it is the one read (else Conflict);
        the organization's owners follow, never emptied (LastOwner): two owners demoting
        each other at once leave one of them. The organization's write comes first, so that
        is the error a lost race names."""
        writes = []
        if member.role == OWNER and role != OWNER:
            writes.append(_owner_leaves(member))
        elif role == OWNER and member.role != OWNER:
            writes.append(
                update(
                    org_pk(member.org_id),
                    "ADD owners :u",
                    "attribute_exists(pk)",
                    values={":u": {"SS": [member.user_id]}},
                    on_condition_failed=NotFound,
                )
            )
        writes.append(
            update(
                member_pk(member.org_id, member.user_id),
                "SET member_role = :new",
                "member_role = :old",
                values={":new": {"S": role}, ":old": {"S": member.role}},
                on_condition_failed=Conflict,
            )
        )
        return writes

    def removed(self, member: MemberRecord, *, account_too: bool = True) -> list[Write]:
        """The membership ends (a removal, leaving, the account's deletion): its item, the
        organization's count and owners (never the last owner: LastOwner), and the user
        item's `orgs` (not when the account itself is being deleted: `account_too`)."""
        if member.role == OWNER:
            organization = _owner_leaves(member, "ADD member_count :minus")
        else:
            organization = update(
                org_pk(member.org_id),
                "ADD member_count :minus",
                "attribute_exists(pk)",
                values={":minus": {"N": "-1"}},
                on_condition_failed=NotFound,
            )
        writes = [organization, _left(member)]
        if account_too:
            writes.append(self._leaves(member))
        return writes

    def dissolved(self, org: OrgRecord, member: MemberRecord) -> list[Write]:
        """An organization whose one member's account is being deleted goes with it: its item
        (on condition that it still has that one member, else Conflict), its slug and the
        membership. Its invitations are swept after (`sweep_invitations`): without the
        organization item none can be accepted."""
        return [
            delete(
                org_pk(org.id),
                "member_count = :one AND contains(owners, :u)",
                values={":one": _ONE, ":u": {"S": member.user_id}},
                on_condition_failed=Conflict,
            ),
            delete(slug_pk(org.slug), "org_id = :o", values={":o": {"S": org.id}}),
            _left(member),
        ]

    def orphaned(self, member: MemberRecord) -> Write:
        """A membership of an organization deleted by a sweep cut short: its item alone."""
        return delete(member_pk(member.org_id, member.user_id))

    def sweep_invitations(self, org_id: str) -> None:
        """The invitations of an organization that is gone, and their tokens."""
        pks = [
            w.pk
            for item in self._all(org_id, _INVITE)
            for w in _invitation_gone(invitation_record(item))
        ]
        self._table.delete_items(pks)

    # -- invitations --------------------------------------------------------------------------

    def invite(
        self, invitation: InvitationRecord, replacing: InvitationRecord | None
    ) -> list[Write]:
        """The invitation and its token's item, in place of the one to the same address (whose
        token then leads nowhere), only while that one is as read (else Conflict: a parallel
        replacement), and only while the organization stands (NotFound)."""
        condition, values = "attribute_not_exists(pk)", {}
        if replacing is not None:
            condition = "token_digest = :old"
            values = {":old": {"S": replacing.token_digest}}
        writes = [
            check(org_pk(invitation.org_id), "attribute_exists(pk)", on_condition_failed=NotFound),
            put(
                _invitation_item(invitation),
                condition,
                values=values,
                on_condition_failed=Conflict,
            ),
            put(
                {
                    "pk": {"S": invitation_token_pk(invitation.token_digest)},
                    "org_id": {"S": invitation.org_id},
                    "invitation_id": {"S": invitation.id},
                    "expires_at": {"N": str(invitation.expires_at)},
                },
                "attribute_not_exists(pk)",
            ),
        ]
        if replacing is not None:
            writes.append(delete(invitation_token_pk(replacing.token_digest)))
        return writes

    def revoked(self, invitation: InvitationRecord) -> list[Write]:
        """The invitation and its token gone, only while it is the one read."""
        return [
            delete(
                invitation_pk(invitation.org_id, invitation.id),
                "token_digest = :d",
                values={":d": {"S": invitation.token_digest}},
                on_condition_failed=InvitationNotFound,
            ),
            delete(invitation_token_pk(invitation.token_digest)),
        ]

    def accepted(
        self, invitation: InvitationRecord, member: MemberRecord, inviter: MemberRecord, now: int
    ) -> list[Write]:
        """The invitation used up and the membership made, all or nothing: the invitation goes
        on condition that it still holds this token's digest and has not expired, so of any
        number of parallel acceptances exactly one commits (the rest: InvitationNotFound);
        the membership only if new (AlreadyMember); the organization's count (and owners)
        only while it stands; the user's `orgs` (TooManyOrganizations); and the inviter still
        holding the role they invited with (else the invitation is void: InvitationNotFound)."""
        organization = "ADD member_count :one"
        values: Item = {":one": _ONE}
        if member.role == OWNER:
            organization += ", owners :u"
            values[":u"] = {"SS": [member.user_id]}
        return [
            delete(
                invitation_pk(invitation.org_id, invitation.id),
                "token_digest = :d AND expires_at > :now",
                values={":d": {"S": invitation.token_digest}, ":now": {"N": str(now)}},
                on_condition_failed=InvitationNotFound,
            ),
            delete(invitation_token_pk(invitation.token_digest)),
            put(
                _member_item(member), "attribute_not_exists(pk)", on_condition_failed=AlreadyMember
            ),
            update(
                org_pk(member.org_id),
                organization,
                "attribute_exists(pk)",
                values=values,
                on_condition_failed=InvitationNotFound,
            ),
            self._joins(member),
            self.holds_role(inviter, on_condition_failed=InvitationNotFound),
        ]


def _owner_leaves(member: MemberRecord, also: str = "") -> Write:
    """An owner leaves the organization's owners, never its last (LastOwner)."""
    expression = "DELETE owners :u" + (f" {also}" if also else "")
    values: Item = {":u": {"SS": [member.user_id]}, ":id": {"S": member.user_id}, ":one": _ONE}
    if also:
        values[":minus"] = {"N": "-1"}
    return update(
        org_pk(member.org_id),
        expression,
        "attribute_exists(pk) AND (NOT contains(owners, :id) OR size(owners) > :one)",
        values=values,
        on_condition_failed=LastOwner,
    )


def _left(member: MemberRecord, on_condition_failed: Any = Conflict) -> Write:
    """The membership's item gone, only while it holds the role it was read with."""
    return delete(
        member_pk(member.org_id, member.user_id),
        "member_role = :r",
        values={":r": {"S": member.role}},
        on_condition_failed=on_condition_failed,
    )


def _invitation_gone(invitation: InvitationRecord) -> list[Write]:
    return [
        delete(invitation_pk(invitation.org_id, invitation.id)),
        delete(invitation_token_pk(invitation.token_digest)),
    ]


def _member_item(member: MemberRecord) -> Item:
    item: Item = {
        "pk": {"S": member_pk(member.org_id, member.user_id)},
        "member_org_id": {"S": member.org_id},
        "member_user_id": {"S": member.user_id},
        "member_email": {"S": member.email},
        "member_role": {"S": member.role},
        "joined_at": {"N": str(member.joined_at)},
    }
    if member.invited_by:
        item["invited_by"] = {"S": member.invited_by}
    return item


def _invitation_item(invitation: InvitationRecord) -> Item:
    return {
        "pk": {"S": invitation_pk(invitation.org_id, invitation.id)},
        "member_org_id": {"S": invitation.org_id},
        "email": {"S": invitation.email},
        "role": {"S": invitation.role},
        "inviter_id": {"S": invitation.inviter_id},
        "inviter_email": {"S": invitation.inviter_email},
        "token_digest": {"S": invitation.token_digest},
        "created_at": {"N": str(invitation.created_at)},
        "expires_at": {"N": str(invitation.expires_at)},
    }


def org_record(item: Item) -> OrgRecord:
    return OrgRecord(
        id=item["pk"]["S"].removeprefix("ORG#"),
        name=item["name"]["S"],
        slug=item["slug"]["S"],
        created_at=int(item.get("created_at", {}).get("N", "0")),
        created_by=item.get("created_by", {}).get("S", ""),
        owners=frozenset(item.get("owners", {}).get("SS", [])),
        member_count=int(item.get("member_count", {}).get("N", "0")),
    )


def member_record(item: Item) -> MemberRecord:
    return MemberRecord(
        org_id=item["member_org_id"]["S"],
        user_id=item["member_user_id"]["S"],
        email=item.get("member_email", {}).get("S", ""),
        role=item["member_role"]["S"],
        joined_at=int(item.get("joined_at", {}).get("N", "0")),
        invited_by=item.get("invited_by", {}).get("S", ""),
    )


def invitation_record(item: Item) -> InvitationRecord:
    return InvitationRecord(
        org_id=item["member_org_id"]["S"],
        id=item["pk"]["S"].rsplit("#", 1)[1],
        email=item["email"]["S"],
        role=item["role"]["S"],
        inviter_id=item.get("inviter_id", {}).get("S", ""),
        inviter_email=item.get("inviter_email", {}).get("S", ""),
        token_digest=item["token_digest"]["S"],
        created_at=int(item.get("created_at", {}).get("N", "0")),
        expires_at=int(item.get("expires_at", {}).get("N", "0")),
    )
