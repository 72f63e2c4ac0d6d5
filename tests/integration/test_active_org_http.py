"""The active organization over real HTTP (`chalice local` on DynamoDB Local): a member removed
while signed in is refused at their next request, by cookie and by bearer token, and the access
token's claims follow the switch, verified as another service of the team would.

The team's own routes are the README's recipe ("Routes for an organization's members"),
served by `chalice local` on a port of their own beside the service, over the same container's
services and table, as a team's app.py would hold them. Organizations and memberships are
made, joined, lowered and ended through the organizations' own routes, as a team's members
would."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from chalice import Chalice
from chalice.cli.factory import CLIFactory
from chalice.local import create_local_server

from chalicelib import web
from devtools.dynamodb_local import ROOT
from tests.helpers import ANN, BOB, PASSWORD, Browser, sign_up_over_http
from tests.integration.test_tokens_http import OutsideService
from tests.test_active_organization import (
    ORG_CLAIMS,
)
from tests.test_protected_route_recipe import recipe

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

EDITORS = '{"editor":["projects:write"]}'  # the recipe's ORG_ROLES
TOKEN = {"X-Session-Transport": "token"}


@pytest.fixture(scope="module")
def recipe_url(server_url: str) -> Iterator[str]:
    """The README's recipe served by `chalice local`, once for the module. Its requests run
    through the same middleware and the same services as the service's (runtime.use: each
    test's table), and the browser's session cookie reaches it (cookies know no port)."""
    app = Chalice(app_name="yours")
    exec(compile(recipe(), "README.md", "exec"), {"app": app})  # noqa: S102 (our own README)
    web.install(app)
    config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="local")
    server = create_local_server(app, config, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server.server_address[1]}"
    server.shutdown()
    server.server.server_close()


def user_id(live_server, browser: Browser, headers=None) -> str:
    session = browser.get(f"{live_server.url}/auth/session", headers=headers)
    assert session.status_code == 200, session.text
    return session.json()["user"]["id"]


def bearer_session(live_server, email: str = ANN) -> dict[str, str]:
    """Another session of the account, a native app's: its Authorization header."""
    signed_in = Browser().post(
        f"{live_server.url}/auth/login", json={"email": email, "password": PASSWORD}, headers=TOKEN
    )
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": f"Bearer {signed_in.json()['session_token']}"}


def an_editor_of_acme(live_server) -> tuple[Browser, str, Browser, str]:
    """Olga creates Acme and invites Ann as an editor; Ann accepts, all over HTTP. Ann's
    browser and user id, Olga's browser, and Acme's id."""
    url = live_server.url
    olga = sign_up_over_http(live_server, "olga@example.com")
    created = olga.post(f"{url}/orgs", json={"name": "Acme", "slug": "acme"})
    assert created.status_code == 201, created.text
    org_id = created.json()["organization"]["id"]
    sent = olga.post(f"{url}/orgs/{org_id}/invitations", json={"email": ANN, "role": "editor"})
    assert sent.status_code == 201, sent.text
    token = live_server.outbox.link(ANN).split("token=", 1)[1]
    ann = sign_up_over_http(live_server, ANN)
    accepted = ann.post(f"{url}/orgs/invitations/accept", json={"token": token})
    assert accepted.status_code == 200, accepted.text
    return ann, user_id(live_server, ann), olga, org_id


def test_a_member_removed_while_signed_in_is_refused_at_the_next_request(
    live_server, configure, recipe_url
):
    configure(ORG_ROLES=EDITORS)
    url = live_server.url
    ann, ann_id, olga, acme = an_editor_of_acme(live_server)
    native = bearer_session(live_server)
    clients = ((ann, None), (Browser(), native))  # her cookie session, her app's bearer one
    for client, headers in clients:
        chosen = client.put(
            f"{url}/auth/session/organization", json={"org_id": acme}, headers=headers
        )
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["organization"]["role"] == "editor"
        added = client.post(f"{recipe_url}/projects", headers=headers)
        assert added.status_code == 201, added.text
        assert added.json() == {"org_id": acme, "added": True}
    live_server.calls.clear()
    assert ann.post(f"{recipe_url}/projects").status_code == 201
    assert live_server.calls.operations == ["GetItem"]  # the session alone, nothing written

    # Olga lowers her, through the API: refused the write at her next request.
    lowered = olga.patch(f"{url}/orgs/{acme}/members/{ann_id}", json={"role": "member"})
    assert lowered.status_code == 200, lowered.text
    for client, headers in clients:
        lowered = client.post(f"{recipe_url}/projects", headers=headers)
        assert lowered.status_code == 403, lowered.text
        assert lowered.json()["error"]["code"] == "insufficient_permissions"
        assert client.get(f"{recipe_url}/projects", headers=headers).json()["role"] == "member"

    # And removes her: in no organization from her next request.
    removed = olga.delete(f"{url}/orgs/{acme}/members/{ann_id}")
    assert removed.status_code == 204, removed.text
    for client, headers in clients:
        for method in ("GET", "POST"):
            refused = client.request(method, f"{recipe_url}/projects", headers=headers)
            assert refused.status_code == 409, refused.text
            assert refused.json()["error"]["code"] == "no_active_organization"
        session = client.get(f"{url}/auth/session", headers=headers)
        assert session.status_code == 200  # still signed in, in no organization
        assert session.json()["organization"] is None
        back = client.put(
            f"{url}/auth/session/organization", json={"org_id": acme}, headers=headers
        )
        assert back.status_code == 403, back.text
        assert back.json()["error"]["code"] == "not_a_member"
        token = client.post(f"{url}/auth/token", headers=headers)
        assert token.status_code == 200, token.text
        claims = OutsideService(url).verify(token.json()["access_token"])
        assert not set(ORG_CLAIMS) & set(claims)


def test_the_tokens_claims_follow_the_switch(live_server, configure):
    configure(ORG_ROLES=EDITORS)
    url = live_server.url
    ann, ann_id, _, acme = an_editor_of_acme(live_server)
    bob = sign_up_over_http(live_server, BOB)
    created = bob.post(f"{url}/orgs", json={"name": "Globex", "slug": "globex"})
    assert created.status_code == 201, created.text
    globex = created.json()["organization"]["id"]
    sent = bob.post(f"{url}/orgs/{globex}/invitations", json={"email": ANN, "role": "member"})
    assert sent.status_code == 201, sent.text
    token = live_server.outbox.link(ANN).split("token=", 1)[1]
    assert ann.post(f"{url}/orgs/invitations/accept", json={"token": token}).status_code == 200
    service = OutsideService(url)
    seen = []
    for org_id in (acme, globex, None):
        chosen = ann.put(f"{url}/auth/session/organization", json={"org_id": org_id})
        assert chosen.status_code == 200, chosen.text
        live_server.calls.clear()
        issued = ann.post(f"{url}/auth/token")
        assert issued.status_code == 200, issued.text
        assert live_server.calls.operations == ["GetItem"]  # the session's read, no more
        claims = service.verify(issued.json()["access_token"])
        assert claims["sub"] == ann_id
        seen.append({name: claims[name] for name in ORG_CLAIMS if name in claims})
    assert seen == [
        {"org_id": acme, "org_role": "editor", "org_permissions": ["projects:write"]},
        {"org_id": globex, "org_role": "member", "org_permissions": []},
        {},  # none of them, not even null
    ]
