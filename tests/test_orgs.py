"""Organizations on moto with the fake clock: made, listed, renamed and deleted; members paged
by Query (10,000 of them, never a Scan), given roles and removed under the rules of no
escalation; the last owner kept, under races too; an account's deletion ending its memberships;
every membership change told to the member's sessions and made an event of the member.
Invitations: tests.test_invitations."""

from __future__ import annotations

import base64
import uuid

import pytest

from chalicelib.errors import ServiceUnavailable
from chalicelib.onetime import BY_USER
from chalicelib.sessions import token_digest
from chalicelib.store.identities import MAX_IDENTITIES
from chalicelib.store.orgs import MAX_ORGS_PER_USER, member_pk, org_pk
from chalicelib.store.passkeys import MAX_PASSKEYS
from chalicelib.store.sessions import session_pk
from chalicelib.store.table import MAX_TRANSACTION_ITEMS, Conflict
from tests.conftest import table_items
from tests.helpers import (
    ANN,
    BOB,
    PASSWORD,
    MotoStream,
    SesMailbox,
    assert_error,
    call,
    log_in,
    session_token,
    sign_up,
)

CAROL = "carol@example.com"
DAVE = "dave@example.com"
STAGE_ROLES = (
    ("editor", frozenset({"projects:write"})),
    ("recruiter", frozenset({"members:invite"})),
)


# -- helpers shared with tests.test_invitations --------------------------------------------------


def user_id_of(client, token):
    return call(client, "GET", "/auth/session", token=token).json_body["user"]["id"]


def new_org(client, token, name="Acme", slug="acme"):
    response = call(client, "POST", "/orgs", {"name": name, "slug": slug}, token)
    assert response.status_code == 201, response.body
    return response.json_body["organization"]["id"]


def invitation_token(email):
    """The token of the link in the last mail to `email`."""
    return SesMailbox().link(email).split("token=", 1)[1]


def invite(client, token, org_id, email, role="member"):
    body = {"email": email, "role": role}
    return call(client, "POST", f"/orgs/{org_id}/invitations", body, token)


def join(client, owner, org_id, email, role="member", *, session=None):
    """`email` invited as `role` and accepting (signed up first, unless `session`); its
    session."""
    sent = invite(client, owner, org_id, email, role)
    assert sent.status_code == 201, sent.body
    body = {"token": invitation_token(email)}  # before a sign-up's own mail
    session = session or sign_up(client, email)
    accepted = call(client, "POST", "/orgs/invitations/accept", body, session)
    assert accepted.status_code == 200, accepted.body
    return session


def role_of(client, token, org_id, user_id):
    page = call(client, "GET", f"/orgs/{org_id}/members?limit=100", token=token).json_body
    return {m["user_id"]: m["role"] for m in page["members"]}.get(user_id)


def items(services, prefix):
    found = table_items(services.client, services.settings.table_name)
    return [item for item in found if item["pk"]["S"].startswith(prefix)]


def org_item(services, org_id):
    (item,) = [i for i in items(services, "ORG#") if i["pk"]["S"] == org_pk(org_id)]
    return item


def add_members(services, org_id, count, role="member", *, accounts=True):
    """`count` members written straight into the table (their user items too, unless not
    `accounts`), as a big organization would have them; the organization's count follows.
    Their user ids."""
    store = services.store
    ids = sorted(str(uuid.UUID(int=n + 1, version=4)) for n in range(count))
    written = []
    for user_id in ids:
        written.append(
            {
                "pk": {"S": member_pk(org_id, user_id)},
                "member_org_id": {"S": org_id},
                "member_user_id": {"S": user_id},
                "member_email": {"S": f"{user_id[:8]}@example.com"},
                "member_role": {"S": role},
                "joined_at": {"N": "1800000000"},
            }
        )
        if not accounts:
            continue
        written.append(
            {
                "pk": {"S": f"USER#{user_id}"},
                "email": {"S": f"{user_id[:8]}@example.com"},
                "orgs": {"SS": [org_id]},
            }
        )
    store.table.put_items(written)
    services.client.update_item(
        TableName=services.settings.table_name,
        Key={"pk": {"S": org_pk(org_id)}},
        UpdateExpression="ADD member_count :n",
        ExpressionAttributeValues={":n": {"N": str(count)}},
    )
    return ids


def working_in(services, token, org_id, role):
    """The session of `token` works in `org_id` as `role` (what PUT /auth/session/organization
    sets)."""
    store = services.store
    store.table.commit(store.sessions.set_organization(token_digest(token), org_id, role))


def session_org(services, token):
    (item,) = [
        i for i in items(services, "SESSION#") if i["pk"]["S"] == session_pk(token_digest(token))
    ]
    return item.get("org_id", {}).get("S"), item.get("org_role", {}).get("S")


# -- organizations -------------------------------------------------------------------------------


def test_a_new_organization_has_its_creator_as_owner_and_is_listed_with_the_role(
    client, services, audit
):
    ann = sign_up(client)
    response = call(client, "POST", "/orgs", {"name": "  Acme Labs ", "slug": "acme-labs"}, ann)
    assert response.status_code == 201, response.body
    org = response.json_body["organization"]
    assert org == {
        "id": org["id"],
        "name": "Acme Labs",
        "slug": "acme-labs",
        "role": "owner",
        "created_at": "2027-01-15T08:00:00Z",
    }
    second = new_org(client, ann, "Beta", "beta")
    listed = call(client, "GET", "/orgs", token=ann).json_body["organizations"]
    assert [(o["id"], o["role"]) for o in listed] == [(org["id"], "owner"), (second, "owner")]
    view = call(client, "GET", f"/orgs/{org['id']}", token=ann).json_body["organization"]
    assert view == {**org, "member_count": 1}
    owners = org_item(services, org["id"])["owners"]["SS"]
    assert owners == [user_id_of(client, ann)]
    assert "org_created" in audit.events


def test_a_slug_is_unique_and_lower_case_letters_digits_and_hyphens(client, services):
    ann = sign_up(client)
    bob = sign_up(client, BOB)
    new_org(client, ann, "Acme", "acme")
    assert_error(call(client, "POST", "/orgs", {"name": "Other", "slug": "acme"}, bob), 409,
                 "slug_taken")  # fmt: skip
    for slug in ("ab", "x" * 41, "Acme", "acme_labs", "acme labs", "acmé", "", "a/b-c"):
        response = call(client, "POST", "/orgs", {"name": "Other", "slug": slug}, bob)
        assert_error(response, 400, "invalid_request")
    for name in ("", "   ", "x" * 101, "line\nbreak", "tab\there"):
        response = call(client, "POST", "/orgs", {"name": name, "slug": "fine"}, bob)
        assert_error(response, 400, "invalid_request")
    assert call(client, "GET", "/orgs", token=bob).json_body == {"organizations": []}
    # Nothing of a refused one was written.
    assert len(items(services, "ORG#")) == 1
    assert len(items(services, "ORGSLUG#")) == 1


def test_a_user_belongs_to_at_most_twenty_organizations(client, services):
    ann = sign_up(client)
    for n in range(MAX_ORGS_PER_USER):
        new_org(client, ann, f"Org {n}", f"org-{n}")
    response = call(client, "POST", "/orgs", {"name": "One more", "slug": "one-more"}, ann)
    assert_error(response, 409, "too_many_organizations")
    assert not [i for i in items(services, "ORGSLUG#") if i["pk"]["S"] == "ORGSLUG#one-more"]
    assert len(call(client, "GET", "/orgs", token=ann).json_body["organizations"]) == 20


def test_a_non_member_is_told_nothing_and_a_member_lacking_a_permission_gets_403(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    bob = join(client, ann, org, BOB)  # a member
    carol = sign_up(client, CAROL)  # no member
    bob_id = user_id_of(client, bob)
    for method, path, body in [
        ("GET", f"/orgs/{org}", None),
        ("PATCH", f"/orgs/{org}", {"name": "Mine"}),
        ("DELETE", f"/orgs/{org}", None),
        ("GET", f"/orgs/{org}/members", None),
        ("PATCH", f"/orgs/{org}/members/{bob_id}", {"role": "member"}),
        ("DELETE", f"/orgs/{org}/members/{bob_id}", None),
        ("POST", f"/orgs/{org}/leave", None),
        ("POST", f"/orgs/{org}/invitations", {"email": DAVE, "role": "member"}),
        ("GET", f"/orgs/{org}/invitations", None),
    ]:
        assert_error(call(client, method, path, body, carol), 404, "not_found")
    unknown = str(uuid.uuid4())
    assert_error(call(client, "GET", f"/orgs/{unknown}", token=ann), 404, "not_found")
    assert_error(call(client, "GET", "/orgs/not-an-id", token=ann), 404, "not_found")
    # A member may look, but not change.
    assert call(client, "GET", f"/orgs/{org}", token=bob).status_code == 200
    assert call(client, "GET", f"/orgs/{org}/members", token=bob).status_code == 200
    forbidden = [
        ("PATCH", f"/orgs/{org}", {"name": "Mine"}),
        ("DELETE", f"/orgs/{org}", None),
        ("GET", f"/orgs/{org}/invitations", None),
        ("POST", f"/orgs/{org}/invitations", {"email": DAVE, "role": "member"}),
        ("PATCH", f"/orgs/{org}/members/{user_id_of(client, ann)}", {"role": "member"}),
        ("DELETE", f"/orgs/{org}/members/{user_id_of(client, ann)}", None),
    ]
    for method, path, body in forbidden:
        assert_error(call(client, method, path, body, bob), 403, "insufficient_permissions")
    assert_error(call(client, "GET", "/orgs"), 401, "unauthenticated")


def test_an_organization_is_renamed_with_org_update_and_deleted_by_its_owner_alone(
    client, services
):
    ann = sign_up(client)
    org = new_org(client, ann)
    bob = join(client, ann, org, BOB, "admin")
    renamed = call(client, "PATCH", f"/orgs/{org}", {"name": "Acme Inc"}, bob)
    assert renamed.status_code == 200, renamed.body
    assert renamed.json_body["organization"]["name"] == "Acme Inc"
    assert renamed.json_body["organization"]["role"] == "admin"
    # An admin holds every permission but org:delete.
    assert_error(call(client, "DELETE", f"/orgs/{org}", token=bob), 403, "insufficient_permissions")
    assert call(client, "DELETE", f"/orgs/{org}", token=ann).status_code == 204
    assert_error(call(client, "GET", f"/orgs/{org}", token=ann), 404, "not_found")


def test_deleting_an_organization_removes_its_memberships_invitations_and_slug(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    other = new_org(client, ann, "Other", "other")
    bob = join(client, ann, org, BOB, "admin")
    working_in(services, bob, org, "admin")
    assert invite(client, ann, org, CAROL).status_code == 201
    token = invitation_token(CAROL)
    assert call(client, "DELETE", f"/orgs/{org}", token=ann).status_code == 204
    assert not [i for i in items(services, "MEMBER#") if i["member_org_id"]["S"] == org]
    assert items(services, "INVITE#") == []
    assert items(services, "INVITETOKEN#") == []
    assert [i["pk"]["S"] for i in items(services, "ORG#")] == [org_pk(other)]
    for user in items(services, "USER#"):
        assert org not in user.get("orgs", {}).get("SS", [])
    assert session_org(services, bob) == (None, None)  # its session works in none
    assert call(client, "GET", "/orgs", token=bob).json_body == {"organizations": []}
    carol = sign_up(client, CAROL)
    refused = call(client, "POST", "/orgs/invitations/accept", {"token": token}, carol)
    assert_error(refused, 404, "invitation_not_found")
    assert new_org(client, carol, "Acme again", "acme")  # the slug is free again


def test_a_big_organization_is_swept_and_a_sweep_cut_short_is_finished_by_the_same_delete(
    client, services, monkeypatch
):
    ann = sign_up(client)
    org = new_org(client, ann)
    ids = add_members(services, org, 120)
    for n in range(3):
        assert invite(client, ann, org, f"guest{n}@example.com").status_code == 201
    table = services.store.table
    real_commit = table.commit
    sweeps = []

    def failing_commit(*writes):
        if any(w.action == "Delete" and w.pk.startswith("MEMBER#") for w in writes):
            sweeps.append(len(writes))
            if len(sweeps) == 2:  # the organization gone, one batch of members swept
                raise ServiceUnavailable()
        return real_commit(*writes)

    monkeypatch.setattr(table, "commit", failing_commit)
    assert_error(call(client, "DELETE", f"/orgs/{org}", token=ann), 503, "service_unavailable")
    monkeypatch.setattr(table, "commit", real_commit)
    assert items(services, "ORG#") == []
    assert items(services, "ORGSLUG#") == []
    left = [i for i in items(services, "MEMBER#") if i["member_org_id"]["S"] == org]
    assert 1 < len(left) < 121  # cut short, the owner's own membership still there
    # Nobody else is told anything of it meanwhile; its owner finishes it.
    assert_error(call(client, "GET", f"/orgs/{org}", token=ann), 404, "not_found")
    assert call(client, "DELETE", f"/orgs/{org}", token=ann).status_code == 204
    assert [i for i in items(services, "MEMBER#") if i["member_org_id"]["S"] == org] == []
    assert items(services, "INVITE#") == []
    assert items(services, "INVITETOKEN#") == []
    for user in items(services, "USER#"):
        assert "orgs" not in user, user["pk"]
    assert_error(call(client, "DELETE", f"/orgs/{org}", token=ann), 404, "not_found")
    assert len(ids) == 120


# -- members -------------------------------------------------------------------------------------


def test_members_page_with_a_cursor_and_a_hostile_cursor_is_a_400(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    ids = add_members(services, org, 7)
    seen, cursor, pages = [], None, 0
    while True:
        path = f"/orgs/{org}/members?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = call(client, "GET", path, token=ann)
        assert page.status_code == 200, page.body
        seen += [m["user_id"] for m in page.json_body["members"]]
        pages += 1
        cursor = page.json_body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([*ids, user_id_of(client, ann)])
    assert len(seen) == 8
    assert pages == 3
    (owner,) = [m for m in call(client, "GET", f"/orgs/{org}/members", token=ann).json_body[
        "members"
    ] if m["role"] == "owner"]  # fmt: skip
    assert owner == {
        "user_id": user_id_of(client, ann),
        "email": ANN,
        "role": "owner",
        "joined_at": "2027-01-15T08:00:00Z",
    }
    hostile = base64.urlsafe_b64encode(b"MEMBER#x#y").decode()
    for query in (
        f"cursor={hostile}",
        "cursor=%%%",
        "cursor=" + "A" * 500,
        "cursor=" + base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "limit=0",
        "limit=101",
        "limit=many",
        "limit=-1",
    ):
        response = call(client, "GET", f"/orgs/{org}/members?{query}", token=ann)
        assert_error(response, 400, "invalid_request")


def test_ten_thousand_members_page_by_query_never_scan(client, services, calls):
    ann = sign_up(client)
    org = new_org(client, ann)
    add_members(services, org, 10_000, accounts=False)
    calls.clear()
    seen, cursor = 0, None
    while True:
        path = f"/orgs/{org}/members?limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = call(client, "GET", path, token=ann).json_body
        seen += len(page["members"])
        assert len(page["members"]) <= 100
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == 10_001
    operations = calls.operations
    assert "Scan" not in operations
    assert operations.count("Query") == 101  # one a page
    # Besides: each request's session (GetItem) and membership (BatchGetItem), nothing else.
    assert set(operations) <= {"Query", "GetItem", "BatchGetItem"}


# -- roles and no escalation ---------------------------------------------------------------------


def test_an_admin_grants_no_owner_and_acts_on_no_owner(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    bob = join(client, ann, org, BOB, "admin")
    carol = join(client, ann, org, CAROL)
    ann_id, carol_id = user_id_of(client, ann), user_id_of(client, carol)
    members = f"/orgs/{org}/members"
    for path, body in [
        (f"{members}/{carol_id}", {"role": "owner"}),  # granting owner
        (f"{members}/{user_id_of(client, bob)}", {"role": "owner"}),  # to itself too
        (f"{members}/{ann_id}", {"role": "member"}),  # demoting an owner
    ]:
        assert_error(call(client, "PATCH", path, body, bob), 403, "insufficient_permissions")
    assert_error(call(client, "DELETE", f"{members}/{ann_id}", token=bob), 403,
                 "insufficient_permissions")  # fmt: skip
    # What it holds in full, it may grant and take.
    changed = call(client, "PATCH", f"{members}/{carol_id}", {"role": "admin"}, bob)
    assert changed.status_code == 200, changed.body
    assert changed.json_body["member"]["role"] == "admin"
    assert call(client, "DELETE", f"{members}/{carol_id}", token=bob).status_code == 204
    assert role_of(client, ann, org, ann_id) == "owner"
    assert set(org_item(services, org)["owners"]["SS"]) == {ann_id}


def test_a_member_changes_no_role_and_a_stage_role_grants_no_more_than_it_holds(
    client, services, stage
):
    stage(org_roles=STAGE_ROLES)
    ann = sign_up(client)
    org = new_org(client, ann)
    bob = join(client, ann, org, BOB)
    carol = join(client, ann, org, CAROL, "editor")
    bob_id, carol_id = user_id_of(client, bob), user_id_of(client, carol)
    path = f"/orgs/{org}/members/{carol_id}"
    assert_error(call(client, "PATCH", path, {"role": "member"}, bob), 403,
                 "insufficient_permissions")  # fmt: skip
    assert_error(call(client, "PATCH", f"/orgs/{org}/members/{bob_id}", {"role": "editor"}, bob),
                 403, "insufficient_permissions")  # fmt: skip
    assert_error(call(client, "PATCH", path, {"role": "wizard"}, ann), 400, "unknown_role")
    # An owner holds the stage's permissions too, so grants its roles.
    response = call(client, "PATCH", f"/orgs/{org}/members/{bob_id}", {"role": "recruiter"}, ann)
    assert response.status_code == 200, response.body
    # A recruiter may invite, but not act on an editor, nor invite one.
    assert_error(invite(client, bob, org, DAVE, "editor"), 403, "insufficient_permissions")
    assert_error(invite(client, bob, org, DAVE, "admin"), 403, "insufficient_permissions")
    assert invite(client, bob, org, DAVE, "member").status_code == 201


def test_a_role_change_reaches_the_members_sessions_in_that_organization_alone(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    other = new_org(client, ann, "Other", "other")
    bob = join(client, ann, org, BOB, "admin")
    bob_id = user_id_of(client, bob)
    join(client, ann, other, BOB, session=bob)
    working_in(services, bob, org, "admin")
    bob_elsewhere = session_token(log_in(client, BOB))  # another session, in the other one
    working_in(services, bob_elsewhere, other, "member")
    changed = call(client, "PATCH", f"/orgs/{org}/members/{bob_id}", {"role": "member"}, ann)
    assert changed.status_code == 200, changed.body
    assert session_org(services, bob) == (org, "member")
    assert session_org(services, bob_elsewhere) == (other, "member")
    assert call(client, "DELETE", f"/orgs/{org}/members/{bob_id}", token=ann).status_code == 204
    assert session_org(services, bob) == (None, None)
    assert session_org(services, bob_elsewhere) == (other, "member")


# -- the last owner --------------------------------------------------------------------------------


def test_the_last_owner_cannot_leave_be_removed_or_be_demoted(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    bob = join(client, ann, org, BOB, "owner")
    ann_id, bob_id = user_id_of(client, ann), user_id_of(client, bob)
    assert set(org_item(services, org)["owners"]["SS"]) == {ann_id, bob_id}
    # Two owners: one may leave.
    assert call(client, "POST", f"/orgs/{org}/leave", token=bob).status_code == 204
    assert org_item(services, org)["owners"]["SS"] == [ann_id]
    assert org_item(services, org)["member_count"]["N"] == "1"
    assert_error(call(client, "POST", f"/orgs/{org}/leave", token=ann), 409, "last_owner")
    assert_error(call(client, "DELETE", f"/orgs/{org}/members/{ann_id}", token=ann), 409,
                 "last_owner")  # fmt: skip
    demote = call(client, "PATCH", f"/orgs/{org}/members/{ann_id}", {"role": "admin"}, ann)
    assert_error(demote, 409, "last_owner")
    assert role_of(client, ann, org, ann_id) == "owner"
    # A member leaves as it likes.
    carol = join(client, ann, org, CAROL)
    assert call(client, "POST", f"/orgs/{org}/leave", token=carol).status_code == 204
    assert call(client, "GET", "/orgs", token=carol).json_body == {"organizations": []}


def test_two_owners_demoting_each_other_at_once_leave_one(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    bob = join(client, ann, org, BOB, "owner")
    ann_id, bob_id = user_id_of(client, ann), user_id_of(client, bob)
    table = services.store.table
    real_read = table.read
    raced = []

    def read_then(*reads):
        records = real_read(*reads)
        if [read.pk for read in reads] == [member_pk(org, bob_id)]:  # ann's read of bob
            table.read = real_read
            raced.append(
                call(client, "PATCH", f"/orgs/{org}/members/{ann_id}", {"role": "admin"}, bob)
            )
        return records

    table.read = read_then
    first = call(client, "PATCH", f"/orgs/{org}/members/{bob_id}", {"role": "admin"}, ann)
    (second,) = raced
    assert second.status_code == 200, second.body  # bob's demotion of ann, in between
    assert_error(first, 409, "last_owner")  # ann's, on what it read before: refused
    assert org_item(services, org)["owners"]["SS"] == [bob_id]
    assert role_of(client, bob, org, bob_id) == "owner"
    assert role_of(client, bob, org, ann_id) == "admin"


# -- an account's deletion -------------------------------------------------------------------------


def delete_account(client, token):
    return call(client, "DELETE", "/auth/account", {"password": PASSWORD}, token)


def test_deleting_the_last_owner_is_refused_while_others_remain_and_allowed_once_handed_over(
    client, services
):
    ann = sign_up(client)
    org = new_org(client, ann)
    bob = join(client, ann, org, BOB)
    bob_id = user_id_of(client, bob)
    assert_error(delete_account(client, ann), 409, "last_owner")
    assert call(client, "GET", "/auth/session", token=ann).status_code == 200  # nothing went
    made = call(client, "PATCH", f"/orgs/{org}/members/{bob_id}", {"role": "owner"}, ann)
    assert made.status_code == 200, made.body
    assert delete_account(client, ann).status_code in (200, 204)
    item = org_item(services, org)
    assert item["owners"]["SS"] == [bob_id]
    assert item["member_count"]["N"] == "1"
    members = call(client, "GET", f"/orgs/{org}/members", token=bob).json_body["members"]
    assert [m["user_id"] for m in members] == [bob_id]


def test_deleting_the_only_member_deletes_the_organization_and_its_invitations(client, services):
    ann = sign_up(client)
    orgs = [new_org(client, ann, f"Org {n}", f"org-{n}") for n in range(MAX_ORGS_PER_USER)]
    assert invite(client, ann, orgs[0], BOB).status_code == 201
    assert delete_account(client, ann).status_code in (200, 204)
    for prefix in ("ORG#", "ORGSLUG#", "MEMBER#", "INVITE#", "INVITETOKEN#", "USER#"):
        assert items(services, prefix) == [], prefix
    bob = sign_up(client, BOB)
    assert new_org(client, bob, "Org 0", "org-0")  # its slug free again


def test_an_accounts_deletion_fits_one_transaction_whatever_it_holds():
    """The most a deletion writes in its transaction: the user and claim, one-time secrets,
    passkeys, identities, the granters' set, 3 items an organization it is alone in; then
    either the admin's standing (an admin's deletion) or the session's own delete and the
    failure counter a right password clears (one's own; the other sessions go in batches)."""
    account = 2 + len(BY_USER) + 1 + MAX_PASSKEYS + MAX_IDENTITIES + 1
    organizations = 3 * MAX_ORGS_PER_USER
    assert account + organizations + max(1, 1 + 1) <= MAX_TRANSACTION_ITEMS


def test_an_admins_deletion_of_a_user_follows_the_same_rules(client, clock, services):
    from tests.test_admin import admin_session

    admin = admin_session(client, clock, services, CAROL)
    ann = sign_up(client)
    org = new_org(client, ann)
    alone = new_org(client, ann, "Alone", "alone")
    bob = join(client, ann, org, BOB)
    ann_id = user_id_of(client, ann)
    assert_error(call(client, "DELETE", f"/admin/users/{ann_id}", token=admin), 409, "last_owner")
    bob_id = user_id_of(client, bob)
    made = call(client, "PATCH", f"/orgs/{org}/members/{bob_id}", {"role": "owner"}, ann)
    assert made.status_code == 200, made.body
    assert call(client, "DELETE", f"/admin/users/{ann_id}", token=admin).status_code == 204
    assert [i["pk"]["S"] for i in items(services, "ORG#")] == [org_pk(org)]
    assert alone not in str(items(services, ""))


def test_a_membership_joined_after_the_deletion_read_the_account_makes_it_try_again(
    client, services
):
    ann = sign_up(client)
    org = new_org(client, ann)
    bob = sign_up(client, BOB)
    bob_id = user_id_of(client, bob)
    store = services.store
    (account,) = store.table.read(store.accounts.user(bob_id))
    assert invite(client, ann, org, BOB).status_code == 201
    body = {"token": invitation_token(BOB)}
    assert call(client, "POST", "/orgs/invitations/accept", body, bob).status_code == 200
    stale = store.accounts.delete(bob_id, BOB, account.orgs)
    with pytest.raises(Conflict):  # read again, it sees the membership
        store.table.commit(*stale)


# -- hostile input ---------------------------------------------------------------------------------


def test_hostile_input_on_every_organization_route_is_a_4xx(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    bob = join(client, ann, org, BOB)
    bob_id = user_id_of(client, bob)
    huge = "x" * 10_000
    cases = [
        ("POST", "/orgs", {"name": 1, "slug": "abc"}, 400),
        ("POST", "/orgs", {"name": "A", "slug": ["abc"]}, 400),
        ("POST", "/orgs", {"name": huge, "slug": "abc"}, 400),
        ("POST", "/orgs", {"name": "A", "slug": huge}, 400),
        ("POST", "/orgs", {"name": "\u202e\u0000", "slug": "abc"}, 400),
        ("POST", "/orgs", {}, 400),
        ("POST", "/orgs", None, 400),
        ("GET", f"/orgs/{huge}", None, 404),
        ("GET", "/orgs/ORG%23x", None, 404),
        ("PATCH", f"/orgs/{org}", {"name": None}, 400),
        ("PATCH", f"/orgs/{org}", {"name": huge}, 400),
        ("DELETE", f"/orgs/{org.upper()}", None, 404),
        ("GET", f"/orgs/{org}/members?limit=1000000000000", None, 400),
        ("GET", f"/orgs/{org}/members?cursor={huge}", None, 400),
        ("PATCH", f"/orgs/{org}/members/{bob_id}", {"role": 7}, 400),
        ("PATCH", f"/orgs/{org}/members/{bob_id}", {"role": huge}, 400),
        ("PATCH", f"/orgs/{org}/members/{bob_id}", {"role": "superowner"}, 400),
        ("PATCH", f"/orgs/{org}/members/not-a-user", {"role": "member"}, 404),
        ("PATCH", f"/orgs/{org}/members/{uuid.uuid4()}", {"role": "member"}, 404),
        ("DELETE", f"/orgs/{org}/members/{huge}", None, 404),
        ("DELETE", f"/orgs/{org}/members/{uuid.uuid4()}", None, 404),
        ("POST", f"/orgs/{org}/leave", {"extra": huge}, 409),  # the last owner, whatever sent
        ("POST", f"/orgs/{org}/invitations", {"email": "not an address", "role": "member"}, 400),
        ("POST", f"/orgs/{org}/invitations", {"email": huge + "@x.io", "role": "member"}, 400),
        ("POST", f"/orgs/{org}/invitations", {"email": DAVE, "role": ["owner"]}, 400),
        ("POST", f"/orgs/{org}/invitations", {"email": DAVE, "role": "boss"}, 400),
        ("POST", f"/orgs/{org}/invitations", {"email": {"$ne": None}, "role": "member"}, 400),
        ("DELETE", f"/orgs/{org}/invitations/{huge}", None, 404),
        ("DELETE", f"/orgs/{org}/invitations/{'0' * 32}", None, 404),
        ("POST", "/orgs/invitations/accept", {"token": 5}, 400),
        ("POST", "/orgs/invitations/accept", {"token": huge}, 404),
        ("POST", "/orgs/invitations/accept", {"token": "A" * 43}, 404),
        ("POST", "/orgs/invitations/accept", {"token": "'; DROP TABLE--"}, 404),
        ("POST", "/orgs/invitations/accept", {}, 400),
    ]
    for method, path, body, status in cases:
        response = call(client, method, path, body, ann)
        assert response.status_code == status, (method, path[:80], body, response.body)
        assert set(response.json_body["error"]) == {"code", "message"}


# -- events ----------------------------------------------------------------------------------------


def test_membership_changes_are_events_of_the_member(client, services, settings, clock):
    from tests.test_events import events_of_user

    stream = MotoStream(settings.table_name, clock)
    ann = sign_up(client)
    org = new_org(client, ann)
    bob = join(client, ann, org, BOB, "admin")
    bob_id = user_id_of(client, bob)
    call(client, "PATCH", f"/orgs/{org}/members/{bob_id}", {"role": "member"}, ann)
    assert call(client, "DELETE", f"/orgs/{org}/members/{bob_id}", token=ann).status_code == 204
    stream.consume(services)
    found = [
        (event.type, event.data)
        for event in events_of_user(services, bob_id)
        if event.type.startswith("org.")
    ]
    assert found == [
        ("org.member_added", {"org_id": org, "role": "admin"}),
        ("org.member_role_changed", {"org_id": org, "role": "member", "previous_role": "admin"}),
        ("org.member_removed", {"org_id": org}),
    ]
    owner = [e.type for e in events_of_user(services, user_id_of(client, ann))]
    assert owner.count("org.member_added") == 1  # made it, as its owner
    assert call(client, "DELETE", f"/orgs/{org}", token=ann).status_code == 204
    stream.consume(services)
    owner = [e.type for e in events_of_user(services, user_id_of(client, ann))]
    assert owner[-1] == "org.member_removed"
