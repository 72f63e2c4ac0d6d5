"""The admin pages on moto: the search, a user's page and its confirmed actions, refusals
shown on the page, and the impersonation banner on every page with its way out."""

from __future__ import annotations

from tests.helpers import BOB, PASSWORD, call, session_token, sign_up
from tests.test_admin import admin_session, user_id_of


def get(client, path, token):
    return client.http.get(path, headers={"Cookie": f"auth_session={token}"})


def post_form(client, path, token, body):
    return client.http.post(
        path,
        headers={
            "Cookie": f"auth_session={token}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body=body,
    )


def test_the_search_page_lists_users_and_links_to_each(client, clock, services):
    admin = admin_session(client, clock, services)
    bob = user_id_of(client, sign_up(client, BOB))
    page = get(client, "/admin?query=bo", admin)
    assert page.status_code == 200
    html = page.body.decode()
    assert f'href="/admin/user/{bob}"' in html
    assert BOB in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_the_pages_refuse_who_may_not_administer(client, clock, services):
    plain = sign_up(client, BOB)
    page = get(client, "/admin", plain)
    assert page.status_code == 403
    assert "You do not have permission to do this." in page.body.decode()
    assert 'id="search"' not in page.body.decode()
    assert get(client, "/admin", None).status_code == 303  # to /login


def test_an_action_needs_its_box_ticked_then_lands(client, clock, services):
    admin = admin_session(client, clock, services)
    bob_session = sign_up(client, BOB)
    bob = user_id_of(client, bob_session)
    unticked = post_form(client, f"/admin/user/{bob}/ban", admin, "reason=spam")
    assert unticked.status_code == 400
    assert "Tick the box to confirm." in unticked.body.decode()
    assert call(client, "GET", "/auth/session", token=bob_session).status_code == 200
    banned = post_form(client, f"/admin/user/{bob}/ban", admin, "reason=spam&confirm=yes")
    assert banned.status_code == 303
    assert banned.headers["Location"] == f"/admin/user/{bob}?notice=user-banned"
    assert call(client, "GET", "/auth/session", token=bob_session).status_code == 401
    page = get(client, banned.headers["Location"], admin).body.decode()
    assert "banned since" in page
    assert "spam" in page


def test_roles_are_set_from_their_checkboxes(client, clock, services):
    admin = admin_session(client, clock, services)
    bob = user_id_of(client, sign_up(client, BOB))
    body = "role=support&confirm=yes"
    assert post_form(client, f"/admin/user/{bob}/roles", admin, body).status_code == 303
    page = get(client, f"/admin/user/{bob}", admin).body.decode()
    assert '<dd id="user-roles">support</dd>' in page


def test_the_user_page_confirms_the_admin_first_when_it_is_time(client, clock, services):
    admin = admin_session(client, clock, services)
    bob = user_id_of(client, sign_up(client, BOB))
    clock.advance(seconds=301)
    page = get(client, f"/admin/user/{bob}", admin).body.decode()
    assert 'id="confirm-first"' in page
    refused = post_form(client, f"/admin/user/{bob}/sign-out", admin, "confirm=yes")
    assert refused.status_code == 401
    confirmed = post_form(
        client, f"/admin/user/{bob}/reauthenticate", admin, f"password={PASSWORD}"
    )
    assert confirmed.status_code == 303
    assert post_form(client, f"/admin/user/{bob}/sign-out", admin, "confirm=yes").status_code == 303


def test_impersonating_shows_the_banner_on_every_page_and_its_button_stops_it(
    client, clock, services
):
    admin = admin_session(client, clock, services)
    sign_up(client, BOB)
    bob = user_id_of(
        client,
        session_token(call(client, "POST", "/auth/login", {"email": BOB, "password": PASSWORD})),
    )
    started = post_form(
        client, f"/admin/user/{bob}/impersonate", admin, "reason=ticket+42&confirm=yes"
    )
    assert started.status_code == 303
    assert started.headers["Location"] == "/training"
    acting = session_token(started)
    for path in ("/training", "/settings", "/"):
        html = get(client, path, acting).body.decode()
        assert "You are signed in as <strong>bob@example.com</strong> by" in html, path
        assert "<strong>ann@example.com</strong>" in html
        assert 'id="stop-impersonating"' in html
    assert "You are signed in as" not in get(client, "/", "").body.decode()
    stopped = post_form(client, "/logout", acting, "")
    assert stopped.status_code == 303
    assert call(client, "GET", "/auth/session", token=acting).status_code == 401
