"""The organization a session works in (PUT /auth/session/organization), as GET /auth/session
shows it, as access tokens carry it and as `@web.org_permission_required` checks it; and
revocation, bounded: a removal or a lowered role counts at the member's next request, for
cookies and bearer tokens, and a token already issued keeps its claims until it expires.

On moto with the fake clock, through Chalice's test client. Organizations and memberships are
written here at the store's level, laid out as chalicelib/store/orgs.py says; a removal or a
role change does what every such change must: its write, then `services.sessions.set_org_role`
(the sweep of the member's sessions)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from chalice import Chalice, Response
from chalice.test import Client

from chalicelib import roles, runtime, web
from chalicelib.access_tokens import ORG_CLAIMS
from chalicelib.hooks import RESERVED_CLAIMS
from chalicelib.store import Store
from chalicelib.store.orgs import member_pk, org_pk, slug_pk
from chalicelib.store.table import delete, put, update
from tests import hooks_example
from tests.conftest import ORIGIN
from tests.helpers import ANN, BOB, assert_error, call, log_in, session_token, sign_up
from tests.test_access_tokens import published_keys

ACME, GLOBEX = "0b7c5a1e-5d1f-4c2e-9a53-6f0e2d1c4b01", "4f2d9e8c-1a3b-4c5d-8e7f-9a0b1c2d3e4f"
EDITOR_ROLES = (("editor", frozenset({"projects:write"})),)
TOKEN = {"X-Session-Transport": "token"}
ORG_PERMISSIONS = sorted(roles.ORG_PERMISSIONS)


# -- organizations and memberships, written as the organizations' API will write them ---------


def create_org(store: Store, org_id: str, owner: tuple[str, str], now: int, slug: str) -> None:
    """An organization and its owner's membership (`owner`: the user's id and email)."""
    owner_id, owner_email = owner
    store.table.commit(
        put(
            {
                "pk": {"S": org_pk(org_id)},
                "name": {"S": slug.title()},
                "slug": {"S": slug},
                "created_at": {"N": str(now)},
                "created_by": {"S": owner_id},
                "owners": {"SS": [owner_id]},
                "member_count": {"N": "1"},
            },
            "attribute_not_exists(pk)",
        ),
        put({"pk": {"S": slug_pk(slug)}, "org_id": {"S": org_id}}, "attribute_not_exists(pk)"),
        put(_member_item(org_id, owner_id, owner_email, "owner", now, "")),
    )


def add_member(
    store: Store, org_id: str, user: tuple[str, str], role: str, now: int, by: str = ""
) -> None:
    user_id, email = user
    store.table.commit(
        put(_member_item(org_id, user_id, email, role, now, by), "attribute_not_exists(pk)"),
        update(org_pk(org_id), "ADD member_count :one", values={":one": {"N": "1"}}),
    )


def _member_item(
    org_id: str, user_id: str, email: str, role: str, now: int, by: str
) -> dict[str, Any]:
    return {
        "pk": {"S": member_pk(org_id, user_id)},
        "member_org_id": {"S": org_id},
        "member_user_id": {"S": user_id},
        "member_email": {"S": email},
        "member_role": {"S": role},
        "joined_at": {"N": str(now)},
        "invited_by": {"S": by},
    }


def change_role(services: runtime.Services, org_id: str, user_id: str, role: str) -> None:
    """A role change: the membership's write, then the sweep of the member's sessions."""
    services.store.table.commit(
        update(
            member_pk(org_id, user_id),
            "SET member_role = :r",
            "attribute_exists(pk)",
            values={":r": {"S": role}},
        )
    )
    services.sessions.set_org_role(user_id, org_id, role)


def remove_member(services: runtime.Services, org_id: str, user_id: str) -> None:
    """A removal: the membership deleted, then the sweep of the member's sessions."""
    services.store.table.commit(
        delete(member_pk(org_id, user_id), "attribute_exists(pk)"),
        update(org_pk(org_id), "ADD member_count :minus", values={":minus": {"N": "-1"}}),
    )
    services.sessions.set_org_role(user_id, org_id, None)


# -- the client's side -------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_session(client: Client, email: str = ANN) -> dict[str, str]:
    """Another session of the account, on the token transport: its Authorization header."""
    response = log_in(client, email, headers=TOKEN)
    assert response.status_code == 200, response.body
    return bearer(response.json_body["session_token"])


def me(client: Client, token: str | None = None, headers: dict[str, str] | None = None) -> Any:
    response = call(client, "GET", "/auth/session", token=token, headers=headers)
    assert response.status_code == 200, response.body
    return response.json_body


def choose(
    client: Client,
    org_id: str | None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    return call(
        client, "PUT", "/auth/session/organization", {"org_id": org_id}, token, headers=headers
    )


def access_token(client: Client, token: str | None = None, headers: dict[str, str] | None = None):
    response = call(client, "POST", "/auth/token", token=token, headers=headers)
    assert response.status_code == 200, response.body
    return response.json_body["access_token"]


def verified_at(client: Client, token: str, now: int) -> dict[str, Any]:
    """The claims, verified as another service would at `now`: the signature by the published
    key, the issuer and the audience by PyJWT, and the lifetime against the fake clock (PyJWT
    would read the machine's), as PyJWT does it (expired from `exp` on)."""
    keys = jwt.PyJWKSet.from_dict(published_keys(client))
    kid = jwt.get_unverified_header(token)["kid"]
    (key,) = [k for k in keys.keys if k.key_id == kid]
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience="api",
        issuer=ORIGIN,
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    if now >= claims["exp"]:
        raise jwt.ExpiredSignatureError("Signature has expired")
    assert claims["nbf"] <= now
    return claims


@pytest.fixture
def editors(stage):
    """The stage of the README's recipe: ORG_ROLES='{"editor":["projects:write"]}'."""
    return stage(org_roles=EDITOR_ROLES)


@pytest.fixture
def ann(client, editors, clock) -> tuple[str, str]:
    """Ann, signed in (her cookie session) and an editor of Acme, whose owner is Olga; and
    Ann's user id."""
    token = sign_up(client, ANN)
    ann_id = me(client, token)["user"]["id"]
    olga = sign_up(client, "olga@example.com")
    olga_id = me(client, olga)["user"]["id"]
    create_org(editors.store, ACME, (olga_id, "olga@example.com"), clock.now(), "acme")
    add_member(editors.store, ACME, (ann_id, ANN), "editor", clock.now(), by=olga_id)
    return token, ann_id


@pytest.fixture
def team_app(services):
    """A team's own routes, as the README's recipe writes them."""
    app = Chalice(app_name="team")

    @app.route("/projects", methods=["GET"])
    @web.login_required
    def projects():
        organization = web.current_organization()
        return {"org_id": organization.id, "role": organization.role, "projects": []}

    @app.route("/projects", methods=["POST"])
    @web.org_permission_required("projects:write")
    def add_project():
        return Response(body={"org_id": web.current_organization().id}, status_code=201)

    @app.route("/org/settings", methods=["PATCH"])
    @web.org_permission_required(roles.ORG_UPDATE)
    def org_settings():
        return {"updated": True}

    web.install(app)
    with Client(app) as client:
        yield client


# -- choosing the organization ----------------------------------------------------------------


def test_a_member_chooses_an_organization_and_the_session_shows_it_with_its_role(
    client, ann, calls
):
    token, _ = ann
    assert me(client, token)["organization"] is None
    calls.clear()
    chosen = choose(client, ACME, token)
    assert chosen.status_code == 200, chosen.body
    # The session's read, the membership's, and one transaction: the session written on
    # condition that the membership still holds the role read.
    assert calls.operations == ["GetItem", "GetItem", "TransactWriteItems"]
    (transaction,) = [params for op, params in calls.calls if op == "TransactWriteItems"]
    checked = transaction["TransactItems"][1]["ConditionCheck"]
    assert checked["Key"]["pk"]["S"] == f"MEMBER#{ACME}#{ann[1]}"
    organization = {"id": ACME, "role": "editor", "permissions": ["projects:write"]}
    assert chosen.json_body["organization"] == organization
    assert chosen.json_body == me(client, token)  # the shape of GET /auth/session
    assert "Set-Cookie" not in chosen.headers  # the same session, the same token


def test_the_session_with_an_organization_is_still_one_get_item_and_no_write(client, ann, calls):
    token, _ = ann
    assert choose(client, ACME, token).status_code == 200
    calls.clear()
    seen = me(client, token)
    assert calls.operations == ["GetItem"]
    assert seen["organization"] == {"id": ACME, "role": "editor", "permissions": ["projects:write"]}


def test_an_owner_sees_every_permission_sorted_and_a_member_none(client, ann, editors):
    token, ann_id = ann
    olga = session_token(log_in(client, "olga@example.com"))
    owner = choose(client, ACME, olga).json_body["organization"]
    assert owner == {
        "id": ACME,
        "role": "owner",
        "permissions": sorted([*ORG_PERMISSIONS, "projects:write"]),
    }
    change_role(editors, ACME, ann_id, "member")
    assert choose(client, ACME, token).json_body["organization"]["permissions"] == []


def test_null_leaves_the_organization(client, ann, calls):
    token, _ = ann
    assert choose(client, ACME, token).status_code == 200
    calls.clear()
    left = choose(client, None, token)
    assert left.status_code == 200, left.body
    assert left.json_body["organization"] is None
    assert calls.operations == ["GetItem", "UpdateItem"]  # no membership to read
    assert me(client, token)["organization"] is None
    assert choose(client, None, token).status_code == 200  # in none already: still fine


@pytest.mark.parametrize(
    "org_id",
    [GLOBEX, "no-such-org", "", "x" * 65, f"{ACME}#x", "../" + ACME, "🏢"],
    ids=["another's", "unknown", "empty", "too long", "a key separator", "a path", "an emoji"],
)
def test_an_organization_not_the_users_is_403_not_a_member_and_changes_nothing(
    client, ann, editors, clock, org_id
):
    token, _ = ann
    bob = sign_up(client, BOB)
    create_org(editors.store, GLOBEX, (me(client, bob)["user"]["id"], BOB), clock.now(), "globex")
    assert choose(client, ACME, token).status_code == 200
    assert_error(choose(client, org_id, token), 403, "not_a_member")
    assert me(client, token)["organization"]["id"] == ACME  # as it was


@pytest.mark.parametrize(
    "body",
    [{}, {"org_id": 7}, {"org_id": ["x"]}, {"org_id": {"id": ACME}}, {"org": ACME}],
    ids=["empty", "a number", "a list", "an object", "another field"],
)
def test_a_malformed_choice_is_400(client, ann, body):
    token, _ = ann
    response = call(client, "PUT", "/auth/session/organization", body, token)
    assert_error(response, 400, "invalid_request")
    assert me(client, token)["organization"] is None


def test_without_a_session_it_is_401(client, ann):
    assert_error(choose(client, ACME), 401, "unauthenticated")
    assert_error(choose(client, ACME, "A" * 43), 401, "unauthenticated")


def test_a_bearer_session_chooses_too_and_the_origin_check_is_the_cookies_alone(client, ann):
    token, _ = ann
    native = token_session(client)
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    chosen = choose(client, ACME, headers={**native, **evil})  # no ambient credential
    assert chosen.status_code == 200, chosen.body
    assert "Set-Cookie" not in chosen.headers
    assert chosen.json_body["organization"]["id"] == ACME
    assert me(client, headers=native)["organization"]["id"] == ACME
    # Each session works in its own: the cookie's is untouched, and another site cannot
    # make the browser change it.
    assert me(client, token)["organization"] is None
    assert_error(choose(client, ACME, token, headers=evil), 403, "cross_origin_request")
    assert me(client, token)["organization"] is None


def test_a_session_that_may_not_reach_resources_cannot_choose(client, ann, stage):
    token, _ = ann
    stage(org_roles=EDITOR_ROLES, require_verified_email=True)
    unverified = sign_up(client, "uma@example.com", verified=False)
    assert_error(choose(client, ACME, unverified), 403, "email_unverified")
    assert choose(client, ACME, token).status_code == 200


# -- access tokens ----------------------------------------------------------------------------


def test_a_token_carries_the_active_organization_and_none_without_one(client, ann, clock):
    token, _ = ann
    without = verified_at(client, access_token(client, token), clock.now())
    assert not set(ORG_CLAIMS) & set(without)  # none of them, not even null
    assert choose(client, ACME, token).status_code == 200
    claims = verified_at(client, access_token(client, token), clock.now())
    assert (claims["org_id"], claims["org_role"]) == (ACME, "editor")
    assert claims["org_permissions"] == ["projects:write"]
    assert choose(client, None, token).status_code == 200
    after = verified_at(client, access_token(client, token), clock.now())
    assert not set(ORG_CLAIMS) & set(after)


def test_an_owners_token_lists_its_organization_permissions_sorted(client, ann, clock):
    olga = token_session(client, "olga@example.com")
    assert choose(client, ACME, headers=olga).status_code == 200
    claims = verified_at(client, access_token(client, headers=olga), clock.now())
    assert claims["org_role"] == "owner"
    assert claims["org_permissions"] == sorted([*ORG_PERMISSIONS, "projects:write"])


def test_the_token_issue_with_an_organization_is_still_one_get_item(client, ann, calls):
    token, _ = ann
    assert choose(client, ACME, token).status_code == 200
    calls.clear()
    access_token(client, token)
    assert calls.operations == ["GetItem"]


def test_the_organization_claims_are_reserved_and_published(client):
    assert set(ORG_CLAIMS) == {"org_id", "org_role", "org_permissions"}
    assert set(ORG_CLAIMS) <= RESERVED_CLAIMS  # no hook of the team's can forge one
    document = call(client, "GET", "/.well-known/openid-configuration").json_body
    assert set(ORG_CLAIMS) <= set(document["claims_supported"])


@pytest.mark.parametrize("working_in", [None, ACME], ids=["in none", "in one"])
def test_a_hook_cannot_put_an_organization_in_a_token(client, ann, stage, clock, audit, working_in):
    """The team's access_token_claims hook answering an organization claim is dropped whole,
    as any reserved claim is: the token claims the session's organization, or none."""
    token, _ = ann
    stage(org_roles=EDITOR_ROLES, hooks_module="tests.hooks_example")
    hooks_example.reset()
    hooks_example.behaviour["claims"] = {"tenant": "acme", "org_id": GLOBEX, "org_role": "owner"}
    try:
        assert choose(client, working_in, token).status_code == 200
        claims = verified_at(client, access_token(client, token), clock.now())
    finally:
        hooks_example.reset()
    assert claims.get("org_id") == working_in
    assert claims.get("org_role") == (None if working_in is None else "editor")
    assert "tenant" not in claims  # the whole answer, not just the reserved claims
    assert [line["reason"] for line in audit.lines if line["event"] == "hook_failed"] == [
        "reserved_claim"
    ]


# -- the decorator -----------------------------------------------------------------------------


def test_org_permission_required_wants_an_organization_then_the_permission(
    client, team_app, ann, calls
):
    token, _ = ann
    assert_error(call(team_app, "POST", "/projects"), 401, "unauthenticated")
    assert_error(call(team_app, "POST", "/projects", token=token), 409, "no_active_organization")
    assert_error(call(team_app, "GET", "/projects", token=token), 409, "no_active_organization")
    assert choose(client, ACME, token).status_code == 200
    calls.clear()
    added = call(team_app, "POST", "/projects", token=token)
    assert added.status_code == 201, added.body
    assert added.json_body == {"org_id": ACME}
    assert calls.operations == ["GetItem"]  # the session alone
    listed = call(team_app, "GET", "/projects", token=token).json_body
    assert listed == {"org_id": ACME, "role": "editor", "projects": []}
    # An editor holds projects:write, not the organization's own permissions.
    patch = call(team_app, "PATCH", "/org/settings", token=token)
    assert_error(patch, 403, "insufficient_permissions")


# -- revocation, bounded -----------------------------------------------------------------------


def test_a_removed_member_is_refused_at_the_next_request_by_cookie_and_by_bearer(
    client, team_app, ann, editors
):
    token, ann_id = ann
    native = token_session(client)
    for credentials in ({"token": token}, {"headers": native}):
        assert choose(client, ACME, **credentials).status_code == 200
        assert call(team_app, "POST", "/projects", **credentials).status_code == 201
    remove_member(editors, ACME, ann_id)
    for credentials in ({"token": token}, {"headers": native}):
        refused = call(team_app, "POST", "/projects", **credentials)
        assert_error(refused, 409, "no_active_organization")
        assert me(client, **credentials)["organization"] is None
        assert_error(choose(client, ACME, **credentials), 403, "not_a_member")
        assert me(client, **credentials)["user"]["email"] == ANN  # still signed in


def test_a_removal_leaves_sessions_working_in_another_organization_alone(
    client, team_app, ann, editors, clock
):
    token, ann_id = ann
    bob = sign_up(client, BOB)
    create_org(editors.store, GLOBEX, (me(client, bob)["user"]["id"], BOB), clock.now(), "globex")
    add_member(editors.store, GLOBEX, (ann_id, ANN), "editor", clock.now())
    native = token_session(client)
    assert choose(client, ACME, token).status_code == 200
    assert choose(client, GLOBEX, headers=native).status_code == 200
    remove_member(editors, ACME, ann_id)
    assert me(client, token)["organization"] is None
    assert me(client, headers=native)["organization"]["id"] == GLOBEX
    assert call(team_app, "POST", "/projects", headers=native).json_body == {"org_id": GLOBEX}


def test_a_lowered_role_counts_at_the_next_request(client, team_app, ann, editors):
    token, ann_id = ann
    native = token_session(client)
    for credentials in ({"token": token}, {"headers": native}):
        assert choose(client, ACME, **credentials).status_code == 200
    change_role(editors, ACME, ann_id, "member")
    for credentials in ({"token": token}, {"headers": native}):
        refused = call(team_app, "POST", "/projects", **credentials)
        assert_error(refused, 403, "insufficient_permissions")
        organization = me(client, **credentials)["organization"]
        assert organization == {"id": ACME, "role": "member", "permissions": []}
    change_role(editors, ACME, ann_id, "admin")  # raised again: at once too
    assert call(team_app, "PATCH", "/org/settings", token=token).status_code == 200


def test_a_token_issued_before_a_removal_lives_only_until_it_expires(
    client, ann, editors, clock, settings
):
    token, ann_id = ann
    assert choose(client, ACME, token).status_code == 200
    before = access_token(client, token)
    issued_at = clock.now()
    remove_member(editors, ACME, ann_id)
    after = verified_at(client, access_token(client, token), clock.now())
    assert not set(ORG_CLAIMS) & set(after)  # a new token reflects the removal at once
    lifetime = int(settings.access_token_lifetime.total_seconds())
    clock.advance(seconds=lifetime - 1)
    assert verified_at(client, before, clock.now())["org_id"] == ACME  # the trade, bounded
    clock.advance(seconds=1)
    with pytest.raises(jwt.ExpiredSignatureError):
        verified_at(client, before, clock.now())
    assert jwt.decode(before, options={"verify_signature": False})["exp"] == issued_at + lifetime


def test_a_token_issued_before_a_lowered_role_lives_only_until_it_expires(
    client, ann, editors, clock, settings
):
    token, ann_id = ann
    assert choose(client, ACME, token).status_code == 200
    before = access_token(client, token)
    change_role(editors, ACME, ann_id, "member")
    now = verified_at(client, access_token(client, token), clock.now())
    assert (now["org_role"], now["org_permissions"]) == ("member", [])
    clock.advance(seconds=int(settings.access_token_lifetime.total_seconds()))
    with pytest.raises(jwt.ExpiredSignatureError):
        verified_at(client, before, clock.now())


def test_the_claims_follow_the_switch(client, ann, editors, clock):
    token, ann_id = ann
    bob = sign_up(client, BOB)
    create_org(editors.store, GLOBEX, (me(client, bob)["user"]["id"], BOB), clock.now(), "globex")
    add_member(editors.store, GLOBEX, (ann_id, ANN), "member", clock.now())
    seen = []
    for org_id in (ACME, GLOBEX, None):
        assert choose(client, org_id, token).status_code == 200
        claims = verified_at(client, access_token(client, token), clock.now())
        seen.append(tuple(claims.get(name) for name in ORG_CLAIMS))
    assert seen == [
        (ACME, "editor", ["projects:write"]),
        (GLOBEX, "member", []),
        (None, None, None),
    ]


# -- the races: a change committed between the PUT's read and its write --------------------------


def after_reading_the_membership(services: runtime.Services, then) -> None:
    """Run `then` once, right after the PUT reads the membership: what a parallel request
    commits between this request's read and its write (tests/test_interleavings.py's way)."""
    table = services.store.table
    real_read = table.read

    def read_then(*reads):
        records = real_read(*reads)
        if any(read.pk.startswith("MEMBER#") for read in reads):
            table.read = real_read
            then()
        return records

    table.read = read_then


def test_a_removal_committed_between_the_read_and_the_write_fails_the_choice(
    client, team_app, ann, editors
):
    token, ann_id = ann
    after_reading_the_membership(editors, lambda: remove_member(editors, ACME, ann_id))
    assert_error(choose(client, ACME, token), 403, "not_a_member")
    # The sweep ran before the session worked in Acme, so it found nothing to change: the
    # transaction's condition is what kept the session out.
    assert me(client, token)["organization"] is None
    assert_error(call(team_app, "POST", "/projects", token=token), 409, "no_active_organization")


def test_a_lowered_role_committed_between_the_read_and_the_write_fails_the_choice(
    client, team_app, ann, editors
):
    token, ann_id = ann
    after_reading_the_membership(editors, lambda: change_role(editors, ACME, ann_id, "member"))
    assert_error(choose(client, ACME, token), 403, "not_a_member")  # never the stale editor
    assert me(client, token)["organization"] is None
    again = choose(client, ACME, token)  # asked again, it reads the news
    assert again.json_body["organization"] == {"id": ACME, "role": "member", "permissions": []}
    assert_error(call(team_app, "POST", "/projects", token=token), 403, "insufficient_permissions")


def test_a_session_ended_between_the_read_and_the_write_is_not_brought_back(client, ann, editors):
    token, _ = ann

    def sign_out_elsewhere():
        assert call(client, "POST", "/auth/logout", token=token).status_code == 204

    after_reading_the_membership(editors, sign_out_elsewhere)
    assert_error(choose(client, ACME, token), 401, "unauthenticated")
    assert_error(call(client, "GET", "/auth/session", token=token), 401, "unauthenticated")
