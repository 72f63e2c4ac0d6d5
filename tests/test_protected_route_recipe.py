"""The README's "Add a protected route" recipe, run as written there on an app of its own: the
protected routes, and those for an organization's members."""

import re

import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib import web
from devtools.dynamodb_local import ROOT
from tests.helpers import PASSWORD, assert_error, call, session_token
from tests.test_active_organization import (
    ACME,
    add_member,
    change_role,
    create_org,
    remove_member,
)


def recipe() -> str:
    """Every Python block of the section, in order, as one app.py would hold them: the
    protected routes, then the routes for an organization's members."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Add a protected route", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 2
    return "\n\n".join(blocks)


@pytest.fixture
def recipe_client(services):
    app = Chalice(app_name="yours")
    exec(compile(recipe(), "README.md", "exec"), {"app": app})  # noqa: S102 (our own README)
    web.install(app)  # what app.py does, after every route
    with Client(app) as client:
        client.recipe_app = app
        yield client


def sign_up(client) -> str:
    body = {"email": "ann@example.com", "password": PASSWORD}
    # Sign-up lives in the real app; the recipe's app shares its services and table.
    from app import app as real_app

    with Client(real_app) as real:
        response = call(real, "POST", "/auth/signup", body)
    assert response.status_code == 201
    return session_token(response)


def test_the_recipe_protects_an_api_route(recipe_client):
    anonymous = call(recipe_client, "GET", "/notes")
    assert anonymous.status_code == 401
    assert anonymous.json_body["error"]["code"] == "unauthenticated"

    token = sign_up(recipe_client)
    signed_in = call(recipe_client, "GET", "/notes", token=token)
    assert signed_in.status_code == 200
    assert signed_in.json_body == {"owner": "ann@example.com", "notes": []}
    assert signed_in.headers["Cache-Control"] == "no-store"

    forged = call(recipe_client, "GET", "/notes", token="A" * 43)
    assert forged.status_code == 401
    assert "Max-Age=0" in forged.headers["Set-Cookie"][0]


def test_the_recipe_protects_a_page(recipe_client):
    anonymous = recipe_client.http.get("/notes/page")
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"] == "/login"

    token = sign_up(recipe_client)
    page = recipe_client.http.get("/notes/page", headers={"Cookie": f"auth_session={token}"})
    assert page.status_code == 200
    assert page.body.decode().startswith("<p>Notes of ")


def test_the_recipe_works_with_the_token_transport(recipe_client):
    """The same view, reached by a native app's bearer token; its pages still want a cookie."""
    from app import app as real_app

    with Client(real_app) as real:
        signed_up = call(
            real,
            "POST",
            "/auth/signup",
            {"email": "kim@example.com", "password": PASSWORD},
            headers={"X-Session-Transport": "token"},
        )
    token = signed_up.json_body["session_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    notes = call(recipe_client, "GET", "/notes", headers=bearer)
    assert notes.status_code == 200
    assert notes.json_body == {"owner": "kim@example.com", "notes": []}
    assert "Set-Cookie" not in notes.headers
    dead = call(recipe_client, "GET", "/notes", headers={"Authorization": "Bearer " + "A" * 43})
    assert dead.status_code == 401
    assert dead.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert "Set-Cookie" not in dead.headers
    # A page protected by login_page_required is a page: it ignores Authorization.
    page = recipe_client.http.get("/notes/page", headers=bearer)
    assert page.status_code == 303
    preflight = recipe_client.http.request("OPTIONS", "/notes")
    assert preflight.status_code == 204  # the JSON route has its preflight; the page none
    assert "OPTIONS" not in recipe_client.http.request("GET", "/notes/page").headers.get(
        "Allow", ""
    )


def test_a_page_the_recipe_declares_is_a_page_and_its_api_route_is_api(recipe_client, stage):
    """The one rule (web.page): the recipe's unprotected HTML route is a page, so it carries no
    CORS header and answers no preflight; its JSON route is the API and does both."""
    stage(cors_origins=("https://app.example.com",))
    origin = {"Origin": "https://app.example.com"}
    about = recipe_client.http.get("/notes/about", headers=origin)
    assert about.status_code == 200
    assert "Access-Control-Allow-Origin" not in about.headers
    assert "OPTIONS" not in recipe_client.recipe_app.routes["/notes/about"]  # no preflight
    notes = recipe_client.http.get("/notes", headers=origin)
    assert notes.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    preflight = recipe_client.http.request("OPTIONS", "/notes", headers=origin)
    assert preflight.status_code == 204


def test_the_recipe_checks_roles_and_permissions(recipe_client, stage):
    services = stage(roles=(("editor", frozenset({"notes:write"})),))
    token = sign_up(recipe_client)
    for method, path in (("POST", "/notes"), ("GET", "/notes/review")):
        refused = call(recipe_client, method, path, token=token)
        assert refused.status_code == 403, (method, path)
        assert refused.json_body["error"]["code"] == "insufficient_permissions"
    from devtools.admin import change_roles

    change_roles(
        services.store, services.settings, "ann@example.com", add=("editor",), remove_all=False
    )
    # The same session, its next request: the role is there.
    assert call(recipe_client, "POST", "/notes", token=token).status_code == 201
    assert call(recipe_client, "GET", "/notes/review", token=token).json_body == {"notes": []}
    change_roles(services.store, services.settings, "ann@example.com", add=(), remove_all=True)
    assert call(recipe_client, "POST", "/notes", token=token).status_code == 403


def test_the_recipe_checks_the_organization_and_the_role_there(recipe_client, stage, clock):
    """ORG_ROLES='{"editor":["projects:write"]}'. The organization and its memberships are
    written at the store's level (tests/test_active_organization.py), a removal or a role
    change with the sweep of the member's sessions that every such change makes."""
    services = stage(org_roles=(("editor", frozenset({"projects:write"})),))
    token = sign_up(recipe_client)
    from app import app as real_app

    with Client(real_app) as real:
        user_id = call(real, "GET", "/auth/session", token=token).json_body["user"]["id"]
        create_org(services.store, ACME, ("olga-id", "olga@example.com"), clock.now(), "acme")
        add_member(services.store, ACME, (user_id, "ann@example.com"), "editor", clock.now())
        for method in ("GET", "POST"):  # a member, but working in no organization yet
            refused = call(recipe_client, method, "/projects", token=token)
            assert_error(refused, 409, "no_active_organization")
        chosen = call(real, "PUT", "/auth/session/organization", {"org_id": ACME}, token)
        assert chosen.status_code == 200, chosen.body

    added = call(recipe_client, "POST", "/projects", token=token)
    assert added.status_code == 201, added.body
    assert added.json_body == {"org_id": ACME, "added": True}
    listed = call(recipe_client, "GET", "/projects", token=token)
    assert listed.json_body == {"org_id": ACME, "role": "editor", "projects": []}
    # The same session, its next request: a lower role refuses the write, not the read.
    change_role(services, ACME, user_id, "member")
    assert_error(
        call(recipe_client, "POST", "/projects", token=token), 403, "insufficient_permissions"
    )
    assert call(recipe_client, "GET", "/projects", token=token).json_body["role"] == "member"
    # Removed: the session works in no organization any more.
    remove_member(services, ACME, user_id)
    for method in ("GET", "POST"):
        refused = call(recipe_client, method, "/projects", token=token)
        assert_error(refused, 409, "no_active_organization")
