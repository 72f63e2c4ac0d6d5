"""The organizations' pages on moto: creating one, an organization's page as its owner, an admin
and a member (each sees only the controls its role allows, and the server refuses the rest
anyway), every form working and refusing a cross-site post, the switcher on the settings page,
and the invitation link's page: it reads and changes nothing, sends a signed-out visitor
through sign-up or log-in and back, and shows the flow's refusals by its button."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

import pytest

from tests.conftest import table_items
from tests.helpers import ANN, BOB, PASSWORD, SesMailbox, call, session_token, sign_up
from tests.test_orgs import invitation_token, invite, join, new_org, role_of, user_id_of

CAROL = "carol@example.com"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def get(client, path, token=None):
    headers = {"Cookie": f"auth_session={token}"} if token else {}
    return client.http.get(path, headers=headers)


def post(client, path, session=None, headers=None, **fields):
    all_headers = {**FORM, **(headers or {})}
    if session:
        all_headers["Cookie"] = f"auth_session={session}"
    return client.http.post(path, headers=all_headers, body=urlencode(fields))


def html(response) -> str:
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return response.body.decode()


def redirected(response, location):
    assert response.status_code == 303, response.body
    assert response.headers["Location"] == location


def everything(services):
    return sorted(
        map(str, table_items(services.client, services.settings.table_name)),
    )


@pytest.fixture
def acme(client):
    """Ann owns Acme; Bob is its admin, Carol a member. Their sessions, and Acme's id."""
    ann = sign_up(client, ANN)
    org_id = new_org(client, ann)
    bob = join(client, ann, org_id, BOB, "admin")
    carol = join(client, ann, org_id, CAROL, "member")
    return {"ann": ann, "bob": bob, "carol": carol, "org_id": org_id}


# -- creating one ------------------------------------------------------------------------------


def test_an_organization_is_created_from_its_page_and_listed_in_settings(client):
    ann = sign_up(client, ANN)
    form = get(client, "/orgs/new", ann)
    assert form.status_code == 200
    body = html(form)
    assert '<form method="post" action="/orgs/new">' in body
    assert '<label for="name">Name</label>' in body
    assert '<label for="slug">Slug</label>' in body
    assert 'aria-describedby="slug-hint"' in body

    created = post(client, "/orgs/new", ann, name="Acme Labs", slug="acme-labs")
    assert created.status_code == 303
    location = created.headers["Location"]
    org_id = re.fullmatch(r"/orgs/([0-9a-f-]{36})/page\?notice=organization-created", location)[1]
    page = html(get(client, location, ann))
    assert '<h1 id="org-name">Acme Labs</h1>' in page
    assert "Your organization was created. You are its owner." in page
    assert '<strong id="your-role">owner</strong>' in page

    settings = html(get(client, "/settings", ann))
    assert f'<a href="/orgs/{org_id}/page">Acme Labs</a> · owner' in settings
    assert 'href="/orgs/new"' in settings


def test_a_bad_name_or_slug_is_shown_by_its_own_field(client):
    ann = sign_up(client, ANN)
    bad_slug = post(client, "/orgs/new", ann, name="Acme", slug="Acme Labs")
    assert bad_slug.status_code == 400
    body = html(bad_slug)
    assert 'id="slug-error" role="alert">The slug is 3 to 40 lower-case letters' in body
    assert 'id="slug" name="slug" type="text" autocomplete="off" required value="Acme Labs"' in body
    assert 'aria-invalid="true" aria-describedby="slug-error"' in body
    assert 'id="name-error"' not in body

    bad_name = post(client, "/orgs/new", ann, name="  ", slug="acme")
    assert bad_name.status_code == 400
    assert 'id="name-error" role="alert">The name is 1 to 100 printable characters.' in html(
        bad_name
    )

    new_org(client, ann, slug="acme")
    taken = post(client, "/orgs/new", ann, name="Another", slug="acme")
    assert taken.status_code == 409
    body = html(taken)
    assert 'id="slug-error" role="alert">Another organization has this slug.' in body
    assert 'value="Another"' in body


def test_the_pages_send_a_browser_without_a_session_to_log_in(client, acme):
    org_id = acme["org_id"]
    for path in ("/orgs/new", f"/orgs/{org_id}/page"):
        redirected(get(client, path), "/login")
    redirected(post(client, "/orgs/new", name="Acme", slug="acme-2"), "/login")
    redirected(post(client, f"/orgs/{org_id}/page/leave"), "/login")


# -- an organization's page, by role -------------------------------------------------------------


def controls(body: str) -> dict[str, int]:
    return {
        "invite": body.count("/page/invite"),
        "revoke": body.count("/page/revoke"),
        "rename": body.count("/page/rename"),
        "delete": body.count("/page/delete"),
        "leave": body.count("/page/leave"),
        "role": body.count("/page/role"),
        "remove": body.count("/page/remove"),
    }


def test_each_viewer_sees_only_the_controls_its_role_allows(client, acme):
    org_id = acme["org_id"]
    invite(client, acme["ann"], org_id, "dave@example.com", "member")
    page = f"/orgs/{org_id}/page"

    owner = html(get(client, page, acme["ann"]))
    # Both others' roles, and its own (another owner could take over); removing the others.
    assert controls(owner) == {
        "invite": 1,
        "revoke": 1,
        "rename": 1,
        "delete": 1,
        "leave": 0,  # the last owner: told how to go instead
        "role": 2,
        "remove": 2,
    }
    assert 'id="last-owner"' in owner
    assert "dave@example.com" in owner  # the pending invitation
    assert owner.count('<option value="owner"') == 3  # the owner may grant every role

    admin = html(get(client, page, acme["bob"]))
    # Not the owner's row, and not the owner role; its own role and Carol's.
    assert controls(admin) == {
        "invite": 1,
        "revoke": 1,
        "rename": 1,
        "delete": 0,
        "leave": 1,
        "role": 2,
        "remove": 1,
    }
    assert '<option value="owner"' not in admin

    member = html(get(client, page, acme["carol"]))
    assert controls(member) == {
        "invite": 0,
        "revoke": 0,
        "rename": 0,
        "delete": 0,
        "leave": 1,
        "role": 0,
        "remove": 0,
    }
    assert "dave@example.com" not in member  # invitations are for who may send them
    for email in (ANN, BOB, CAROL):
        assert f"<td>{email}" in member
    assert '<td class="member-role">admin</td>' in member


def test_the_server_refuses_what_the_page_hides(client, acme, services):
    org_id, carol = acme["org_id"], acme["carol"]
    bob_id = user_id_of(client, acme["bob"])
    before = everything(services)
    attempts = [
        ("role", {"user_id": bob_id, "role": "member"}),
        ("remove", {"user_id": bob_id}),
        ("rename", {"name": "Mine now"}),
        ("delete", {"confirm": "yes"}),
        ("invite", {"email": "eve@example.com", "role": "member"}),
        ("revoke", {"invitation_id": "0" * 32}),
    ]
    for action, fields in attempts:
        refused = post(client, f"/orgs/{org_id}/page/{action}", carol, **fields)
        assert refused.status_code == 403, action
        body = html(refused)
        # Carol's page has no such form: the message is at the top of it.
        assert 'id="page-error" role="alert">You do not have permission to do this.' in body
        assert f"/page/{action}" not in body
    assert everything(services) == before
    assert role_of(client, acme["ann"], org_id, bob_id) == "admin"


def test_an_admin_may_not_touch_the_owner_nor_grant_owner(client, acme):
    org_id, bob = acme["org_id"], acme["bob"]
    ann_id = user_id_of(client, acme["ann"])
    carol_id = user_id_of(client, acme["carol"])
    refused = post(client, f"/orgs/{org_id}/page/remove", bob, user_id=ann_id)
    assert refused.status_code == 403
    assert 'id="page-error" role="alert">You do not have permission' in html(refused)
    escalated = post(client, f"/orgs/{org_id}/page/role", bob, user_id=carol_id, role="owner")
    assert escalated.status_code == 403
    body = html(escalated)
    assert f'id="role-{carol_id}-error" role="alert">' in body
    assert 'aria-invalid="true" aria-describedby="role-' + carol_id + '-error"' in body
    assert role_of(client, acme["ann"], org_id, carol_id) == "member"


def test_a_non_member_is_told_nothing_of_the_organization(client, acme):
    outsider = sign_up(client, "eve@example.com")
    for path in (f"/orgs/{acme['org_id']}/page", "/orgs/not-an-id/page"):
        response = get(client, path, outsider)
        assert response.status_code == 404
        body = html(response)
        assert 'id="org-error" role="alert">There is no organization with this id.' in body
        assert "Acme" not in body
    hostile = get(client, f"/orgs/{acme['org_id']}/page?cursor=%27%22%3E", acme["ann"])
    assert hostile.status_code == 400
    assert 'id="org-error" role="alert">The cursor is not one this listing gave.' in html(hostile)


# -- every form ---------------------------------------------------------------------------------


def test_inviting_revoking_and_the_mail(client, acme):
    org_id, ann = acme["org_id"], acme["ann"]
    sent = post(client, f"/orgs/{org_id}/page/invite", ann, email="Dave@Example.com", role="admin")
    redirected(sent, f"/orgs/{org_id}/page?notice=invitation-sent")
    assert (
        SesMailbox()
        .link("dave@example.com")
        .startswith("http://localhost:8000/orgs/invitation?token=")
    )
    page = html(get(client, sent.headers["Location"], ann))
    assert "The invitation was sent." in page
    (invitation_id,) = re.findall(r'data-invitation-id="([0-9a-f]{32})"', page)
    assert "<strong>dave@example.com</strong> as admin" in page

    wrong = post(client, f"/orgs/{org_id}/page/invite", ann, email="not an address", role="member")
    assert wrong.status_code == 400
    body = html(wrong)
    assert 'id="invite-email-error" role="alert">' in body
    assert 'value="not an address"' in body
    member = post(client, f"/orgs/{org_id}/page/invite", ann, email=CAROL, role="member")
    assert member.status_code == 409
    assert 'id="invite-email-error" role="alert">The account with this address' in html(member)

    revoked = post(client, f"/orgs/{org_id}/page/revoke", ann, invitation_id=invitation_id)
    redirected(revoked, f"/orgs/{org_id}/page?notice=invitation-revoked")
    assert 'id="no-invitations"' in html(get(client, revoked.headers["Location"], ann))
    again = post(client, f"/orgs/{org_id}/page/revoke", ann, invitation_id=invitation_id)
    assert again.status_code == 404  # gone from the list: the message is at the top
    assert 'id="page-error" role="alert">This invitation is not valid' in html(again)


def test_changing_a_role_and_removing_a_member(client, acme):
    org_id, ann = acme["org_id"], acme["ann"]
    carol_id = user_id_of(client, acme["carol"])
    changed = post(client, f"/orgs/{org_id}/page/role", ann, user_id=carol_id, role="admin")
    redirected(changed, f"/orgs/{org_id}/page?notice=member-role-changed")
    assert role_of(client, ann, org_id, carol_id) == "admin"
    assert "The member&#39;s role was changed." in html(
        get(client, changed.headers["Location"], ann)
    )

    removed = post(client, f"/orgs/{org_id}/page/remove", ann, user_id=carol_id)
    redirected(removed, f"/orgs/{org_id}/page?notice=member-removed")
    assert role_of(client, ann, org_id, carol_id) is None
    assert get(client, f"/orgs/{org_id}/page", acme["carol"]).status_code == 404


def test_the_last_owner_is_kept_and_told_why(client, acme):
    org_id, ann = acme["org_id"], acme["ann"]
    ann_id = user_id_of(client, ann)
    demoted = post(client, f"/orgs/{org_id}/page/role", ann, user_id=ann_id, role="member")
    assert demoted.status_code == 409  # the page offers no such change: told at the top
    assert 'id="page-error" role="alert">This is the organization&#39;s last owner.' in html(
        demoted
    )
    left = post(client, f"/orgs/{org_id}/page/leave", ann)
    assert left.status_code == 409
    assert 'id="leave-error" role="alert">This is the organization&#39;s last owner.' in html(left)


def test_renaming_leaving_and_deleting(client, acme, services):
    org_id, ann = acme["org_id"], acme["ann"]
    renamed = post(client, f"/orgs/{org_id}/page/rename", ann, name="Acme Corp")
    redirected(renamed, f"/orgs/{org_id}/page?notice=organization-renamed")
    assert '<h1 id="org-name">Acme Corp</h1>' in html(get(client, f"/orgs/{org_id}/page", ann))
    empty = post(client, f"/orgs/{org_id}/page/rename", ann, name="")
    assert empty.status_code == 400
    assert 'id="rename-name-error" role="alert">' in html(empty)

    redirected(
        post(client, f"/orgs/{org_id}/page/leave", acme["carol"]),
        "/settings?notice=organization-left",
    )
    assert get(client, f"/orgs/{org_id}/page", acme["carol"]).status_code == 404

    unticked = post(client, f"/orgs/{org_id}/page/delete", ann)
    assert unticked.status_code == 400
    assert 'id="delete-error" role="alert">Tick the box to confirm.' in html(unticked)
    deleted = post(client, f"/orgs/{org_id}/page/delete", ann, confirm="yes")
    redirected(deleted, "/settings?notice=organization-deleted")
    assert get(client, f"/orgs/{org_id}/page", ann).status_code == 404
    assert not [i for i in everything(services) if "MEMBER#" in i or "ORG#" in i]


def test_every_form_refuses_a_cross_site_post(client, acme, services):
    org_id, ann = acme["org_id"], acme["ann"]
    carol_id = user_id_of(client, acme["carol"])
    invite(client, ann, org_id, "dave@example.com", "member")
    token = invitation_token("dave@example.com")
    forms = [
        ("/orgs/new", {"name": "Evil", "slug": "evil"}),
        ("/settings/organization", {"org_id": org_id}),
        (f"/orgs/{org_id}/page/rename", {"name": "Evil"}),
        (f"/orgs/{org_id}/page/delete", {"confirm": "yes"}),
        (f"/orgs/{org_id}/page/leave", {}),
        (f"/orgs/{org_id}/page/role", {"user_id": carol_id, "role": "admin"}),
        (f"/orgs/{org_id}/page/remove", {"user_id": carol_id}),
        (f"/orgs/{org_id}/page/invite", {"email": "eve@example.com", "role": "owner"}),
        (f"/orgs/{org_id}/page/revoke", {"invitation_id": "0" * 32}),
        ("/orgs/invitation", {"token": token}),
    ]
    before = everything(services)
    for path, fields in forms:
        for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
            refused = post(client, path, ann, headers=headers, **fields)
            assert refused.status_code == 403, path
            assert refused.json_body["error"]["code"] == "cross_origin_request", path
    assert everything(services) == before


# -- the switcher ------------------------------------------------------------------------------


def test_the_switcher_lists_the_organizations_and_sets_the_active_one(client, acme):
    bob, org_id = acme["bob"], acme["org_id"]
    other = new_org(client, bob, name="Globex", slug="globex")
    settings = html(get(client, "/settings", bob))
    assert settings.index(">Acme (admin)</label>") < settings.index(">Globex (owner)</label>")
    assert 'id="work-in-none" value="" checked' in settings
    assert 'href="/orgs/new"' in settings

    switched = post(client, "/settings/organization", bob, org_id=org_id)
    redirected(switched, "/settings?notice=organization-switched")
    session = call(client, "GET", "/auth/session", token=bob).json_body
    assert session["organization"]["id"] == org_id
    assert session["organization"]["role"] == "admin"
    settings = html(get(client, "/settings", bob))
    assert f'value="{org_id}" checked' in settings
    assert 'Acme</a> · admin <span class="badge">active</span>' in settings
    assert 'id="org-active"' in html(get(client, f"/orgs/{org_id}/page", bob))
    work_here = html(get(client, f"/orgs/{other}/page", bob))
    assert 'id="work-here"' in work_here

    from_the_page = post(
        client,
        "/settings/organization",
        bob,
        org_id=other,
        next=f"/orgs/{other}/page?notice=organization-switched",
    )
    redirected(from_the_page, f"/orgs/{other}/page?notice=organization-switched")
    assert call(client, "GET", "/auth/session", token=bob).json_body["organization"]["id"] == other

    cleared = post(client, "/settings/organization", bob, org_id="")
    redirected(cleared, "/settings?notice=no-organization")
    assert call(client, "GET", "/auth/session", token=bob).json_body["organization"] is None

    elsewhere = post(client, "/settings/organization", acme["carol"], org_id=other)
    assert elsewhere.status_code == 403
    assert 'id="organization-error" role="alert">You are not a member' in html(elsewhere)
    away = post(client, "/settings/organization", bob, org_id=org_id, next="https://evil.example")
    redirected(away, "/settings?notice=organization-switched")  # not another site's page


def test_settings_without_any_organization_offer_to_create_one(client):
    ann = sign_up(client, ANN)
    body = html(get(client, "/settings", ann))
    assert 'id="no-organizations"' in body
    assert 'id="switch-organization"' not in body
    assert '<a href="/orgs/new" id="new-organization">' in body


# -- the invitation link's page ----------------------------------------------------------------


def invitation_path(token):
    return f"/orgs/invitation?token={token}"


def test_opening_the_invitation_reads_and_changes_nothing(client, acme, services):
    org_id, ann = acme["org_id"], acme["ann"]
    assert invite(client, ann, org_id, "dave@example.com", "admin").status_code == 201
    token = invitation_token("dave@example.com")
    dave = sign_up(client, "dave@example.com")
    before = everything(services)
    for viewer in (None, dave, acme["carol"], ann):
        shown = get(client, invitation_path(token), viewer)
        assert shown.status_code == 200
        assert shown.headers["Referrer-Policy"] == "no-referrer"
        body = html(shown)
        assert '<dd id="invitation-org">Acme</dd>' in body
        assert f'<dd id="invitation-inviter">{ANN}</dd>' in body
        assert '<dd id="invitation-email">dave@example.com</dd>' in body
        assert '<dd id="invitation-role">admin</dd>' in body
    assert everything(services) == before
    assert role_of(client, ann, org_id, user_id_of(client, dave)) is None


def test_a_signed_out_visitor_signs_up_verifies_and_comes_back_to_accept(client, acme):
    org_id, ann = acme["org_id"], acme["ann"]
    invite(client, ann, org_id, "dave@example.com", "member")
    token = invitation_token("dave@example.com")
    here = invitation_path(token)
    body = html(get(client, here))
    back = quote(here, safe="/")
    assert f'href="/signup?next={back}"' in body
    assert f'href="/login?next={back}"' in body
    assert 'id="accept"' not in body  # no button before signing in

    signup = get(client, f"/signup?next={back}")
    assert signup.headers["Referrer-Policy"] == "no-referrer"
    assert f'<input type="hidden" name="next" value="{here}">' in html(signup)
    assert f'href="/login?next={back}"' in html(signup)  # the other way in keeps it
    signed_up = post(client, "/signup", email="dave@example.com", password=PASSWORD, next=here)
    redirected(signed_up, here)
    dave = session_token(signed_up)

    unverified = get(client, here, dave)
    assert unverified.status_code == 200
    body = html(unverified)
    assert '<p class="error" id="accept-error" role="alert">Verify your email address' in body
    assert 'id="accept" aria-describedby="accept-error"' in body
    assert f'href="/verify-email?next={back}"' in body
    refused = post(client, "/orgs/invitation", dave, token=token)
    assert refused.status_code == 403
    assert 'id="accept-error" role="alert">Verify your email address' in html(refused)

    verify = get(client, f"/verify-email?next={back}", dave)
    assert f'<input type="hidden" name="next" value="{here}">' in html(verify)
    code = SesMailbox().code("dave@example.com")
    verified = post(client, "/verify-email", dave, code=code, next=here)
    redirected(verified, here)
    dave = session_token(verified)
    ready = html(get(client, here, dave))
    assert 'id="accept-error"' not in ready
    assert '<button type="submit" id="accept">Accept and join Acme</button>' in ready

    accepted = post(client, "/orgs/invitation", dave, token=token)
    redirected(accepted, f"/orgs/{org_id}/page?notice=invitation-accepted")
    assert "Welcome: you are a member" in html(get(client, accepted.headers["Location"], dave))
    used = get(client, here, dave)
    assert used.status_code == 404
    assert 'id="accept-error" role="alert">This invitation is not valid' in html(used)


def test_an_existing_account_logs_in_and_comes_back(client, acme):
    org_id, ann = acme["org_id"], acme["ann"]
    sign_up(client, "dave@example.com")
    invite(client, ann, org_id, "dave@example.com", "member")
    here = invitation_path(invitation_token("dave@example.com"))
    login = get(client, f"/login?next={quote(here, safe='/')}")
    assert f'<input type="hidden" name="next" value="{here}">' in html(login)
    logged_in = post(client, "/login", email="dave@example.com", password=PASSWORD, next=here)
    redirected(logged_in, here)
    # Signed in already, the sign-in pages send it on.
    redirected(get(client, f"/login?next={quote(here)}", session_token(logged_in)), here)


def test_another_address_sees_the_flow_message_by_the_button(client, acme):
    org_id, ann = acme["org_id"], acme["ann"]
    invite(client, ann, org_id, "dave@example.com", "member")
    token = invitation_token("dave@example.com")
    carol = acme["carol"]
    shown = html(get(client, invitation_path(token), carol))
    mismatch = "This invitation is for another email address. Sign in with that address."
    assert f'<p class="error" id="accept-error" role="alert">{mismatch}</p>' in shown
    assert 'id="accept" aria-describedby="accept-error"' in shown
    assert 'id="other-address"' in shown
    refused = post(client, "/orgs/invitation", carol, token=token)
    assert refused.status_code == 403
    assert f'id="accept-error" role="alert">{mismatch}' in html(refused)


def test_a_broken_link_and_a_signed_out_post_are_explained(client, acme):
    missing = get(client, invitation_path("A" * 43))
    assert missing.status_code == 404
    assert 'id="accept-error" role="alert">This invitation is not valid' in html(missing)
    assert get(client, "/orgs/invitation").status_code == 404
    invite(client, acme["ann"], acme["org_id"], "dave@example.com", "member")
    token = invitation_token("dave@example.com")
    signed_out = post(client, "/orgs/invitation", token=token)
    assert signed_out.status_code == 401
    body = html(signed_out)
    assert 'id="accept-error" role="alert">' in body
    assert 'id="signed-out"' in body


# -- `next`: our own paths only ------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_next_is_only_ever_one_of_our_paths(client, hostile):
    sign_up(client, ANN)
    shown = html(get(client, f"/login?next={quote(hostile, safe='')}"))
    assert 'name="next"' not in shown
    assert "evil" not in shown
    logged_in = post(client, "/login", email=ANN, password=PASSWORD, next=hostile)
    redirected(logged_in, "/training")
    token = session_token(logged_in)
    redirected(get(client, f"/signup?next={quote(hostile, safe='')}", token), "/training")


def test_a_second_factor_owed_is_finished_on_the_way_back(client, clock, acme):
    import pyotp

    from tests.test_pages import enrol_in_settings

    dave = sign_up(client, "dave@example.com")
    secret, _, _ = enrol_in_settings(client, clock, dave)
    invite(client, acme["ann"], acme["org_id"], "dave@example.com", "member")
    here = invitation_path(invitation_token("dave@example.com"))
    logged_in = post(client, "/login", email="dave@example.com", password=PASSWORD, next=here)
    redirected(logged_in, f"/2fa?next={quote(here, safe='/')}")
    owing = session_token(logged_in)
    shown = html(get(client, here, owing))
    assert 'id="second-factor-owed"' in shown
    assert f'href="/2fa?next={quote(here, safe="/")}"' in shown
    assert 'id="accept"' not in shown
    form = html(get(client, f"/2fa?next={quote(here, safe='/')}", owing))
    assert f'<input type="hidden" name="next" value="{here}">' in form
    code = pyotp.TOTP(secret).at(clock.now())
    redirected(post(client, "/2fa", owing, code=code, next=here), here)


def test_removing_oneself_is_leaving(client, acme):
    org_id, carol = acme["org_id"], acme["carol"]
    carol_id = user_id_of(client, carol)
    left = post(client, f"/orgs/{org_id}/page/remove", carol, user_id=carol_id)
    redirected(left, "/settings?notice=organization-left")
    assert role_of(client, acme["ann"], org_id, carol_id) is None
