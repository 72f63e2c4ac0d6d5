"""Organizations, their members and their invitations.

- organization: pk `ORG#<org id>`; name, slug, created_at, created_by, owners (a string set of
  the user ids holding `owner`: never emptied while the organization stands, LastOwner),
  member_count.
- slug: pk `ORGSLUG#<slug>`; org_id. Makes a slug belong to at most one organization.
- membership: pk `MEMBER#<org id>#<user id>`; member_org_id (the `org_members` index's
  partition key), member_user_id, member_email (as it was when they joined, for listing),
  member_role, joined_at, invited_by. The user item lists the organizations it belongs to
  (`orgs`, a string set; store.accounts), so a user's organizations need no index.
- invitation: pk `INVITE#<org id>#<invitation id>`; member_org_id too (the same index lists an
  organization's pending invitations), email, role, inviter_id, inviter_email, token_digest,
  created_at, expires_at (TTL). Its id is a digest of the organization and the address, so a
  new invitation to the same address replaces the old one; the id is no capability.
- invitation token: pk `INVITETOKEN#<sha256 hex of the token>`; org_id, invitation_id,
  expires_at (TTL). The token itself is never stored; accepting it deletes the invitation on
  condition that it still holds this token's digest, so it is single-use.

The `org_members` index (member_org_id, pk) lists an organization's members (pk prefix
`MEMBER#`) and invitations (`INVITE#`) a page at a time, by Query, never Scan.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from chalicelib.errors import NotAMember
from chalicelib.store.table import ORG_MEMBERS, Item, Read, Table, Write, check


class MemberRecord(NamedTuple):
    org_id: str
    user_id: str
    email: str
    role: str
    joined_at: int
    invited_by: str = ""  # the inviter's user id ("": the creator)


def org_pk(org_id: str) -> str:
    return f"ORG#{org_id}"


def slug_pk(slug: str) -> str:
    return f"ORGSLUG#{slug}"


def member_pk(org_id: str, user_id: str) -> str:
    return f"MEMBER#{org_id}#{user_id}"


def invitation_id(org_id: str, email: str) -> str:
    """An invitation's public id: the same for the same organization and address."""
    return hashlib.sha256(f"{org_id}\n{email}".encode()).hexdigest()[:32]


def invitation_pk(org_id: str, invitation: str) -> str:
    return f"INVITE#{org_id}#{invitation}"


def invitation_token_pk(token_digest: str) -> str:
    return f"INVITETOKEN#{token_digest}"


class OrgItems:
    def __init__(self, table: Table) -> None:
        self._table = table
        self._index = ORG_MEMBERS

    def member(self, org_id: str, user_id: str) -> Read:
        """The user's membership of the organization (None: not a member)."""
        return Read(member_pk(org_id, user_id), member_record)

    def holds_role(self, member: MemberRecord) -> Write:
        """A condition for a transaction that acts on what `member` was read to be (the active
        organization a session carries): the membership still stands, with that role. A
        removal or a role change committed since fails it (NotAMember: asked again, it reads
        the news)."""
        return check(
            member_pk(member.org_id, member.user_id),
            "member_role = :role",
            values={":role": {"S": member.role}},
            on_condition_failed=NotAMember,
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
