"""Invitations on moto with the fake clock: a mailed token stored only as a digest, never in a
response or an audit line; accepted once, by the invited address alone and verified, by any
way of signing up; replaced, revoked, expired after 7 days, void once its inviter can no longer
invite; limited to 50 pending and 20 sends an hour; a preview that changes nothing."""

from __future__ import annotations

import hashlib
import json

import pytest

from chalicelib.errors import InvitationNotFound
from chalicelib.flows import invitations as flows
from chalicelib.flows.context import RequestContext
from chalicelib.store.orgs import invitation_id
from chalicelib.transports import Presented, Transport
from tests.conftest import table_items
from tests.helpers import (
    ANN,
    BOB,
    SesMailbox,
    assert_error,
    call,
    session_token,
    sign_up,
    sign_up_with_code,
)
from tests.test_orgs import (
    CAROL,
    DAVE,
    STAGE_ROLES,
    invitation_token,
    invite,
    items,
    join,
    new_org,
    org_item,
    role_of,
    user_id_of,
)

ACCEPT = "/orgs/invitations/accept"


def accept(client, token, session):
    return call(client, "POST", ACCEPT, {"token": token}, session)


def anonymous(services):
    """A request context with no session, as the invitation's page has for a visitor."""
    presented = Presented(Transport.COOKIE, None, None, None, False)
    return RequestContext(services, presented, ip="127.0.0.1", user_agent="", base_path="")


def test_an_invitation_mails_a_link_whose_token_is_stored_only_as_a_digest(client, services, audit):
    ann = sign_up(client)
    org = new_org(client, ann, "Acme & Co", "acme")
    sent = invite(client, ann, org, BOB, "admin")
    assert sent.status_code == 201, sent.body
    invitation = sent.json_body["invitation"]
    assert invitation == {
        "id": invitation_id(org, BOB),
        "email": BOB,
        "role": "admin",
        "expires_at": "2027-01-22T08:00:00Z",  # 7 days
        "invited_by": {"user_id": user_id_of(client, ann), "email": ANN},
    }
    mail = SesMailbox().last(BOB)
    assert mail.subject == "You are invited to join Acme & Co"
    assert "ann@example.com invited you to join Acme & Co" in mail.text
    assert "Acme &amp; Co" in mail.html  # escaped in HTML
    assert "because ann@example.com invited this address" in mail.text
    token = invitation_token(BOB)
    assert SesMailbox().link(BOB) == f"http://localhost:8000/orgs/invitation?token={token}"
    assert len(token) == 43  # 32 random bytes
    digest = hashlib.sha256(token.encode()).hexdigest()
    listed = call(client, "GET", f"/orgs/{org}/invitations", token=ann)
    assert listed.json_body == {"invitations": [invitation]}
    dump = json.dumps(table_items(services.client, services.settings.table_name))
    assert token not in dump
    (token_item,) = items(services, "INVITETOKEN#")
    assert token_item["pk"]["S"] == f"INVITETOKEN#{digest}"
    assert invitation["id"] != digest
    bob = sign_up(client, BOB)
    accepted = accept(client, token, bob)
    assert accepted.status_code == 200, accepted.body
    for response in (sent, listed, accepted):
        assert token not in response.body.decode()
        assert digest not in response.body.decode()
    for line in audit.lines:
        assert token not in json.dumps(line)
        assert digest not in json.dumps(line)
    assert {"org_invitation_sent", "org_invitation_accepted"} <= set(audit.events)


def test_someone_without_an_account_signs_up_by_any_way_verifies_and_accepts(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    assert invite(client, ann, org, "new@example.com").status_code == 201
    token = invitation_token("new@example.com")
    newcomer = sign_up_with_code(client, "new@example.com")  # no password: an emailed code
    accepted = accept(client, token, newcomer)
    assert accepted.status_code == 200, accepted.body
    assert accepted.json_body == {
        "organization": {
            "id": org,
            "name": "Acme",
            "slug": "acme",
            "role": "member",
            "created_at": "2027-01-15T08:00:00Z",
        },
        "role": "member",
    }
    listed = call(client, "GET", "/orgs", token=newcomer).json_body["organizations"]
    assert [o["id"] for o in listed] == [org]
    assert org_item(services, org)["member_count"]["N"] == "2"


def test_only_the_invited_address_verified_accepts(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    assert invite(client, ann, org, BOB).status_code == 201
    token = invitation_token(BOB)
    carol = sign_up(client, CAROL)
    assert_error(accept(client, token, carol), 403, "invitation_email_mismatch")
    dave = sign_up(client, DAVE, verified=False)  # another address, unverified: the address
    assert_error(accept(client, token, dave), 403, "invitation_email_mismatch")
    squatter = sign_up(client, BOB, verified=False)  # the address, never proven
    assert_error(accept(client, token, squatter), 403, "email_unverified")
    assert len([i for i in items(services, "MEMBER#") if i["member_org_id"]["S"] == org]) == 1
    # The owner proves it: now it may.
    code = SesMailbox().code(BOB)
    verified = call(client, "POST", "/auth/email/verify", {"code": code}, squatter)
    assert verified.status_code == 200, verified.body
    bob = session_token(verified)
    assert accept(client, token, bob).status_code == 200
    assert_error(call(client, "POST", ACCEPT, {"token": token}), 401, "unauthenticated")


def test_an_invitation_is_used_once(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    assert invite(client, ann, org, BOB).status_code == 201
    token = invitation_token(BOB)
    bob = sign_up(client, BOB)
    assert accept(client, token, bob).status_code == 200
    assert_error(accept(client, token, bob), 404, "invitation_not_found")
    assert items(services, "INVITE#") == []
    assert items(services, "INVITETOKEN#") == []
    members = [i for i in items(services, "MEMBER#") if i["member_org_id"]["S"] == org]
    assert len(members) == 2
    # Invited again while a member: refused at once.
    assert_error(invite(client, ann, org, BOB), 409, "already_member")


def test_an_invitation_expires_after_seven_days(client, services, clock):
    ann = sign_up(client)
    org = new_org(client, ann)
    assert invite(client, ann, org, BOB).status_code == 201
    token = invitation_token(BOB)
    bob = sign_up(client, BOB)
    clock.advance(days=7, seconds=-1)
    assert flows.preview(anonymous(services), token).email == BOB  # still, for a second
    clock.advance(seconds=1)
    # TTL has yet to delete it: expired is absent all the same.
    assert len(items(services, "INVITE#")) == 1
    assert_error(accept(client, token, bob), 404, "invitation_not_found")
    listed = call(client, "GET", f"/orgs/{org}/invitations", token=ann).json_body
    assert listed == {"invitations": []}
    revoked = call(
        client, "DELETE", f"/orgs/{org}/invitations/{invitation_id(org, BOB)}", token=ann
    )
    assert_error(revoked, 404, "invitation_not_found")
    # Sent again, it works.
    assert invite(client, ann, org, BOB).status_code == 201
    assert accept(client, invitation_token(BOB), bob).status_code == 200


def test_a_new_invitation_to_the_same_address_replaces_the_old(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    assert invite(client, ann, org, BOB, "member").status_code == 201
    old = invitation_token(BOB)
    assert invite(client, ann, org, BOB, "admin").status_code == 201
    new = invitation_token(BOB)
    assert new != old
    listed = call(client, "GET", f"/orgs/{org}/invitations", token=ann).json_body["invitations"]
    assert [(i["email"], i["role"]) for i in listed] == [(BOB, "admin")]
    assert len(items(services, "INVITETOKEN#")) == 1  # the old token's item went with it
    bob = sign_up(client, BOB)
    assert_error(accept(client, old, bob), 404, "invitation_not_found")
    accepted = accept(client, new, bob)
    assert accepted.status_code == 200, accepted.body
    assert accepted.json_body["role"] == "admin"


def test_a_revoked_invitation_cannot_be_accepted(client, services, audit):
    ann = sign_up(client)
    org = new_org(client, ann)
    assert invite(client, ann, org, BOB).status_code == 201
    token = invitation_token(BOB)
    path = f"/orgs/{org}/invitations/{invitation_id(org, BOB)}"
    assert call(client, "DELETE", path, token=ann).status_code == 204
    assert items(services, "INVITE#") == []
    assert items(services, "INVITETOKEN#") == []
    assert_error(accept(client, token, sign_up(client, BOB)), 404, "invitation_not_found")
    assert_error(call(client, "DELETE", path, token=ann), 404, "invitation_not_found")
    assert "org_invitation_revoked" in audit.events


# -- no escalation -------------------------------------------------------------------------------


def test_an_inviter_invites_with_no_role_above_its_own(client, services, stage):
    stage(org_roles=STAGE_ROLES)
    ann = sign_up(client)
    org = new_org(client, ann)
    member = join(client, ann, org, BOB)
    admin = join(client, ann, org, CAROL, "admin")
    recruiter = join(client, ann, org, DAVE, "recruiter")
    assert_error(invite(client, member, org, "x@example.com"), 403, "insufficient_permissions")
    assert_error(invite(client, admin, org, "x@example.com", "owner"), 403,
                 "insufficient_permissions")  # fmt: skip
    for role in ("admin", "editor", "owner"):
        refused = invite(client, recruiter, org, "x@example.com", role)
        assert_error(refused, 403, "insufficient_permissions")
    assert invite(client, recruiter, org, "x@example.com", "member").status_code == 201
    assert invite(client, recruiter, org, "y@example.com", "recruiter").status_code == 201
    assert invite(client, admin, org, "z@example.com", "editor").status_code == 201
    # An admin revokes no owner's invitation, which it could not have sent.
    assert invite(client, ann, org, "o@example.com", "owner").status_code == 201
    path = f"/orgs/{org}/invitations/{invitation_id(org, 'o@example.com')}"
    assert_error(call(client, "DELETE", path, token=admin), 403, "insufficient_permissions")
    # An owner's invitation makes an owner.
    token = invitation_token("o@example.com")
    response = accept(client, token, sign_up(client, "o@example.com"))
    assert response.status_code == 200, response.body
    assert len(org_item(services, org)["owners"]["SS"]) == 2


def test_an_invitation_from_someone_since_demoted_or_gone_is_void(client, services):
    ann = sign_up(client)
    org = new_org(client, ann)
    carol = join(client, ann, org, CAROL, "admin")
    assert invite(client, carol, org, BOB, "admin").status_code == 201
    token = invitation_token(BOB)
    assert invite(client, carol, org, DAVE, "member").status_code == 201
    dave_token = invitation_token(DAVE)
    carol_id = user_id_of(client, carol)
    demoted = call(client, "PATCH", f"/orgs/{org}/members/{carol_id}", {"role": "member"}, ann)
    assert demoted.status_code == 200, demoted.body
    bob = sign_up(client, BOB)
    assert_error(accept(client, token, bob), 404, "invitation_not_found")
    assert role_of(client, ann, org, user_id_of(client, bob)) is None
    # Made an admin again, what it sent holds again; removed, nothing does.
    again = call(client, "PATCH", f"/orgs/{org}/members/{carol_id}", {"role": "admin"}, ann)
    assert again.status_code == 200, again.body
    assert call(client, "DELETE", f"/orgs/{org}/members/{carol_id}", token=ann).status_code == 204
    assert_error(accept(client, dave_token, sign_up(client, DAVE)), 404, "invitation_not_found")


# -- limits -------------------------------------------------------------------------------------


def test_an_organization_has_at_most_fifty_pending_invitations(client, services, clock):
    ann = sign_up(client)
    org = new_org(client, ann)
    for n in range(50):
        if n and n % 20 == 0:
            clock.advance(hours=1)  # past the sends limit
        assert invite(client, ann, org, f"guest{n}@example.com").status_code == 201
    clock.advance(hours=1)
    assert_error(invite(client, ann, org, "one-more@example.com"), 409, "too_many_invitations")
    # Replacing a pending one is no new one.
    assert invite(client, ann, org, "guest0@example.com").status_code == 201
    path = f"/orgs/{org}/invitations/{invitation_id(org, 'guest1@example.com')}"
    assert call(client, "DELETE", path, token=ann).status_code == 204
    assert invite(client, ann, org, "one-more@example.com").status_code == 201
    listed = call(client, "GET", f"/orgs/{org}/invitations", token=ann).json_body
    assert len(listed["invitations"]) == 50


def test_the_21st_send_within_an_hour_is_a_429_with_retry_after(client, services, clock):
    ann = sign_up(client)
    org = new_org(client, ann)
    for n in range(20):
        assert invite(client, ann, org, f"guest{n}@example.com").status_code == 201
    clock.advance(minutes=10)
    refused = invite(client, ann, org, "guest20@example.com")
    assert_error(refused, 429, "too_many_attempts")
    assert refused.headers["Retry-After"] == str(50 * 60)
    assert not [i for i in items(services, "INVITE#") if i["email"]["S"] == "guest20@example.com"]
    clock.advance(minutes=50)
    assert invite(client, ann, org, "guest20@example.com").status_code == 201
    # The limit is the inviter's: another inviter of the same organization is not held back.
    bob = join(client, ann, org, BOB, "admin")
    assert invite(client, bob, org, "guest21@example.com").status_code == 201


# -- the invitation's page ------------------------------------------------------------------------


def test_the_preview_tells_the_page_what_to_show_and_changes_nothing(client, services, calls):
    ann = sign_up(client)
    org = new_org(client, ann, "Acme Labs", "acme")
    assert invite(client, ann, org, BOB, "admin").status_code == 201
    token = invitation_token(BOB)
    calls.clear()
    shown = flows.preview(anonymous(services), token)
    assert calls.writes == []
    assert shown == flows.InvitationPreview(
        org_id=org,
        organization="Acme Labs",
        inviter_email=ANN,
        email=BOB,
        role="admin",
        expires_at=services.clock.now() + 7 * 86_400,
    )
    for bad in ("", "A" * 43, token[:-1], token + "A", "../" * 15):
        with pytest.raises(InvitationNotFound):
            flows.preview(anonymous(services), bad)
    # Seen, it still works.
    assert accept(client, token, sign_up(client, BOB)).status_code == 200


def test_two_acceptances_of_one_token_in_flight_at_once_make_one_membership(client, services):
    """The second acceptance runs whole between the first's reads and its write: the first's
    write, on the invitation as it read it, finds it used up."""
    ann = sign_up(client)
    org = new_org(client, ann)
    assert invite(client, ann, org, BOB).status_code == 201
    token = invitation_token(BOB)
    bob = sign_up(client, BOB)
    table = services.store.table
    real_read = table.read
    raced = []

    def read_then(*reads):
        records = real_read(*reads)
        if len(reads) == 2 and all(read.pk.startswith("MEMBER#") for read in reads):
            table.read = real_read  # the first's last read before its write
            raced.append(accept(client, token, bob))
        return records

    table.read = read_then
    first = accept(client, token, bob)
    (second,) = raced
    assert second.status_code == 200, second.body
    assert_error(first, 404, "invitation_not_found")
    members = [i for i in items(services, "MEMBER#") if i["member_org_id"]["S"] == org]
    assert len(members) == 2
    assert org_item(services, org)["member_count"]["N"] == "2"


def test_an_admin_impersonating_the_invitee_cannot_accept_for_them(client, clock, services):
    from tests.test_admin import admin_session, user_id_of

    admin = admin_session(client, clock, services)
    org = new_org(client, admin)
    assert invite(client, admin, org, BOB).status_code == 201
    token = invitation_token(BOB)
    bob = user_id_of(client, sign_up(client, BOB))
    acting = call(client, "POST", f"/admin/users/{bob}/impersonate", {"reason": "x"}, admin)
    assert acting.status_code == 200, acting.body
    assert_error(accept(client, token, session_token(acting)), 403, "impersonation_forbidden")
    assert [i for i in items(services, "MEMBER#") if i["member_user_id"]["S"] == bob] == []
