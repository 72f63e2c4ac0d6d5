"""The admin API over HTTP, on DynamoDB Local: a ban ends a cookie session and a bearer
session at once and refuses every way in (password, emailed code, passkey, social sign-in,
access tokens); a removed role stops a protected route at the user's next request; and admins
acting on each other at once never leave the service without one, nor a session behind a ban.

The stage turns ADMIN_MFA_REQUIRED off here: the Chromium walk (test_admin_browser) signs its
admin in with an authenticator app, as the stage default asks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib import runtime
from devtools.admin import change_roles
from tests.helpers import ANN, BOB, PASSWORD, Browser, sign_up_over_http
from tests.integration.test_social_http import JSON, callback_url, error_code, finish
from tests.softkey import SoftKey

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

TOKEN = {"X-Session-Transport": "token"}


def an_admin(live_server, email=ANN, *roles) -> Browser:
    browser = sign_up_over_http(live_server, email)
    services = runtime.get()
    change_roles(
        services.store, services.settings, email, add=roles or ("admin",), remove_all=False
    )
    again = browser.post(f"{live_server.url}/auth/reauthenticate", json={"password": PASSWORD})
    assert again.status_code == 200, again.text
    return browser


def user_id(live_server, browser, headers=None) -> str:
    return browser.get(f"{live_server.url}/auth/session", headers=headers).json()["user"]["id"]


def test_a_ban_ends_every_session_at_once_and_refuses_every_way_in(live_server, configure):
    configure(ADMIN_MFA_REQUIRED="false")
    url = live_server.url
    admin = an_admin(live_server)
    bob = sign_up_over_http(live_server, BOB)
    key = SoftKey(origin=url, rp_id="localhost")
    options = bob.post(f"{url}/auth/passkeys/register/options", json={"password": PASSWORD})
    registered = bob.post(
        f"{url}/auth/passkeys/register",
        json={"credential": key.create(options.json()), "name": "Laptop"},
    )
    assert registered.status_code == 201, registered.text
    linked = Browser()
    assert finish(linked, callback_url(live_server, linked, BOB)).status_code == 303  # linked
    native = Browser().post(
        f"{url}/auth/login", json={"email": BOB, "password": PASSWORD}, headers=TOKEN
    )
    bearer = {"Authorization": f"Bearer {native.json()['session_token']}"}
    assert Browser().get(f"{url}/auth/session", headers=bearer).status_code == 200
    assert bob.post(f"{url}/auth/login/code", json={"email": BOB}).status_code == 202
    code_before_the_ban = live_server.outbox.code(BOB)
    bob_id = user_id(live_server, bob)

    banned = admin.post(f"{url}/admin/users/{bob_id}/ban", json={"reason": "fraud"})
    assert banned.status_code == 200, banned.text

    # Every session ended at once: the cookie's, the bearer token's, the social one's.
    for client, headers in ((bob, None), (Browser(), bearer), (linked, None)):
        gone = client.get(f"{url}/auth/session", headers=headers)
        assert gone.status_code == 401
    assert bob.post(f"{url}/auth/token").status_code == 401
    assert [i for i in live_server.items("SESSION#") if i["session_user_id"]["S"] == bob_id] == []
    # Every way in refused.
    refused = [
        Browser().post(f"{url}/auth/login", json={"email": BOB, "password": PASSWORD}),
        Browser().post(
            f"{url}/auth/login/code/verify", json={"email": BOB, "code": code_before_the_ban}
        ),
    ]
    visitor = Browser()
    challenge = visitor.post(f"{url}/auth/passkeys/login/options").json()
    refused.append(
        visitor.post(f"{url}/auth/passkeys/login", json={"credential": key.get(challenge)})
    )
    social = Browser()
    refused.append(finish(social, callback_url(live_server, social, BOB), **JSON))
    for response in refused:
        assert response.status_code == 403, response.text
        assert error_code(response) == "account_disabled"
    # A code or reset asked for the address: the same 202 as for any, and nothing sent.
    sent = len(live_server.outbox.messages())
    assert Browser().post(f"{url}/auth/login/code", json={"email": BOB}).status_code == 202
    assert Browser().post(f"{url}/auth/password-reset", json={"email": BOB}).status_code == 202
    assert len(live_server.outbox.messages()) == sent


def test_a_removed_role_stops_a_protected_route_at_the_next_request(live_server, configure):
    configure(ADMIN_MFA_REQUIRED="false")
    url = live_server.url
    admin = an_admin(live_server)
    support = an_admin(live_server, BOB, "support")
    native = Browser().post(
        f"{url}/auth/login", json={"email": BOB, "password": PASSWORD}, headers=TOKEN
    )
    bearer = {"Authorization": f"Bearer {native.json()['session_token']}"}
    for client, headers in ((support, None), (Browser(), bearer)):
        assert client.get(f"{url}/admin/users", headers=headers).status_code == 200
    bob_id = user_id(live_server, support)
    taken = admin.put(f"{url}/admin/users/{bob_id}/roles", json={"roles": []})
    assert taken.status_code == 200, taken.text
    for client, headers in ((support, None), (Browser(), bearer)):
        response = client.get(f"{url}/admin/users", headers=headers)
        assert response.status_code == 403
        assert error_code(response) == "insufficient_permissions"


@pytest.mark.parametrize("round_", range(3))
def test_two_admins_demoting_each_other_at_once_leave_one(live_server, configure, round_):
    configure(ADMIN_MFA_REQUIRED="false")
    url = live_server.url
    first, second = an_admin(live_server), an_admin(live_server, BOB)
    pairs = [(first, user_id(live_server, second)), (second, user_id(live_server, first))]

    def demote(pair):
        actor, target = pair
        return actor.put(f"{url}/admin/users/{target}/roles", json={"roles": []}).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(demote, pairs))
    assert statuses.count(200) <= 1, statuses
    assert set(statuses) <= {200, 403, 409, 503}, statuses
    admins = [i for i in live_server.items("USER#") if "role_names" in i]
    (granters,) = live_server.items("GRANTERS")
    assert len(admins) >= 1  # never none
    assert set(granters["holders"]["SS"]) == {i["pk"]["S"].removeprefix("USER#") for i in admins}


def test_logins_racing_a_ban_leave_no_session_behind(live_server, configure):
    configure(ADMIN_MFA_REQUIRED="false")
    url = live_server.url
    admin = an_admin(live_server)
    bob_id = user_id(live_server, sign_up_over_http(live_server, BOB))

    def log_in(_: int) -> int:
        body = {"email": BOB, "password": PASSWORD}
        return Browser().post(f"{url}/auth/login", json=body).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        logins = [pool.submit(log_in, n) for n in range(8)]
        banned = admin.post(f"{url}/admin/users/{bob_id}/ban", json={"reason": "x"})
        statuses = [login.result() for login in logins]
    assert banned.status_code == 200, banned.text
    assert set(statuses) <= {200, 403, 503}, statuses
    # A login that committed before the ban was swept by it; one after it is refused, and one
    # in flight across it fails its condition on the account's standing.
    left = [i for i in live_server.items("SESSION#") if i["session_user_id"]["S"] == bob_id]
    assert left == []
