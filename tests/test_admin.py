"""The admin API on moto with the fake clock: search without a Scan, bans that stop every
way in and lift by themselves, roles that reach live sessions at once, no escalation in any
direction, the last admin, impersonation that names the admin and cannot change the account."""

from __future__ import annotations

from dataclasses import replace

import jwt
import pytest

from chalicelib import runtime
from devtools.admin import change_roles
from tests.conftest import table_items
from tests.helpers import (
    ANN,
    BOB,
    PASSWORD,
    SesMailbox,
    assert_error,
    call,
    log_in,
    session_token,
    sign_up,
)
from tests.test_two_factor import enrol

CAROL = "carol@example.com"


def grant(services, email, *roles):
    return change_roles(
        services.store, services.settings, email, add=roles or ("admin",), remove_all=False
    )


def admin_session(client, clock, services, email=ANN, *roles):
    """An account with `roles` (admin) that signed in with its authenticator app: the session
    the admin API asks for, re-authenticated a moment ago (the app's set-up took the
    password)."""
    token = sign_up(client, email)
    grant(services, email, *roles)
    return enrol(client, clock, token).token


def user_id_of(client, token):
    return call(client, "GET", "/auth/session", token=token).json_body["user"]["id"]


def reauthenticate(client, token):
    response = call(client, "POST", "/auth/reauthenticate", {"password": PASSWORD}, token=token)
    assert response.status_code == 200, response.body


# -- search -------------------------------------------------------------------------------


def test_search_pages_by_email_prefix_in_order_with_parallel_queries_and_no_scan(
    client, clock, services, calls
):
    admin = admin_session(client, clock, services)
    emails = sorted(f"user{n:02d}@example.com" for n in range(23))
    for email in emails:
        sign_up(client, email, verified=False)
    sign_up(client, "other@example.org", verified=False)
    seen, cursor, pages = [], None, 0
    while True:
        calls.clear()
        query = "/admin/users?query=USER&limit=10" + (f"&cursor={cursor}" if cursor else "")
        response = call(client, "GET", query, token=admin)
        assert response.status_code == 200, response.body
        assert "Scan" not in calls.operations
        assert calls.operations.count("Query") == 16  # one per shard, one round
        body = response.json_body
        assert len(body["users"]) <= 10
        seen += [user["email"] for user in body["users"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == emails  # every one, once, in email order
    assert pages == 3
    first = call(client, "GET", "/admin/users?query=user00", token=admin).json_body["users"][0]
    assert first == {
        "id": first["id"],
        "email": "user00@example.com",
        "email_verified": False,
        "roles": [],
        "status": "active",
        "banned_until": None,
        "created_at": "2027-01-15T08:00:30Z",  # after the admin's set-up
    }
    by_id = call(client, "GET", f"/admin/users?query={first['id']}", token=admin).json_body
    assert [u["email"] for u in by_id["users"]] == ["user00@example.com"]
    admins = call(client, "GET", "/admin/users?role=admin", token=admin).json_body["users"]
    assert [u["email"] for u in admins] == [ANN]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?limit=0", 400, "invalid_request"),
        ("?limit=101", 400, "invalid_request"),
        ("?limit=ten", 400, "invalid_request"),
        ("?status=gone", 400, "invalid_request"),
        ("?role=wizard", 400, "unknown_role"),
        ("?cursor=not-a-cursor", 400, "invalid_request"),
        ("?query=" + "a" * 300, 400, "invalid_request"),
    ],
)
def test_bad_search_input_is_a_400_in_the_error_shape(client, clock, services, query, status, code):
    admin = admin_session(client, clock, services)
    assert_error(call(client, "GET", "/admin/users" + query, token=admin), status, code)


def test_a_cursor_from_another_query_is_refused(client, clock, services):
    admin = admin_session(client, clock, services)
    for n in range(3):
        sign_up(client, f"a{n}@example.com", verified=False)
    page = call(client, "GET", "/admin/users?query=a&limit=1", token=admin).json_body
    assert page["next_cursor"]
    other = f"/admin/users?query=b&cursor={page['next_cursor']}"
    assert_error(call(client, "GET", other, token=admin), 400, "invalid_request")


# -- who may use the admin API --------------------------------------------------------------


def test_the_admin_api_needs_the_permission_a_second_factor_and_a_fresh_reauthentication(
    client, clock, services, stage
):
    plain = sign_up(client, BOB)
    assert_error(call(client, "GET", "/admin/users", token=plain), 403, "insufficient_permissions")
    assert_error(call(client, "GET", "/admin/users", token=None), 401, "unauthenticated")
    grant(services, BOB)  # an admin, but this session gave no second factor
    assert_error(call(client, "GET", "/admin/users", token=plain), 403, "admin_mfa_required")
    stage(admin_mfa_required=False)
    assert call(client, "GET", "/admin/users", token=plain).status_code == 200
    stage(admin_mfa_required=True)
    admin = admin_session(client, clock, services, CAROL)
    target = user_id_of(client, plain)
    assert call(client, "GET", f"/admin/users/{target}", token=admin).status_code == 200
    clock.advance(seconds=301)  # the re-authentication ran out: reading still works
    assert call(client, "GET", f"/admin/users/{target}", token=admin).status_code == 200
    banned = call(client, "POST", f"/admin/users/{target}/sign-out", token=admin)
    assert_error(banned, 401, "reauthentication_required")


def test_hostile_input_on_every_admin_route_is_a_4xx(client, clock, services):
    admin = admin_session(client, clock, services)
    bob = user_id_of(client, sign_up(client, BOB))
    cases = [
        ("GET", "/admin/users/not-an-id", None, 404),
        ("GET", "/admin/users/00000000-0000-4000-8000-000000000000", None, 404),
        ("POST", f"/admin/users/{bob}/ban", {}, 400),
        ("POST", f"/admin/users/{bob}/ban", {"reason": "x" * 201}, 400),
        ("POST", f"/admin/users/{bob}/ban", {"reason": "spam", "until": "yesterday"}, 400),
        (
            "POST",
            f"/admin/users/{bob}/ban",
            {"reason": "spam", "until": "2020-01-01T00:00:00Z"},
            400,
        ),
        ("POST", f"/admin/users/{bob}/ban", {"reason": ["a"]}, 400),
        ("PUT", f"/admin/users/{bob}/roles", {"roles": "admin"}, 400),
        ("PUT", f"/admin/users/{bob}/roles", {"roles": ["wizard"]}, 400),
        ("PUT", f"/admin/users/{bob}/roles", {"roles": [1]}, 400),
        ("POST", f"/admin/users/{bob}/impersonate", {}, 400),
        ("POST", f"/admin/users/{bob}/impersonate", {"reason": "r" * 201}, 400),
        ("POST", "/admin/users/nobody/unban", None, 404),
        ("DELETE", "/admin/users/nobody", None, 404),
    ]
    for method, path, body, status in cases:
        response = call(client, method, path, body, token=admin)
        assert response.status_code == status, (method, path, body, response.body)
        assert set(response.json_body["error"]) == {"code", "message"}


# -- bans -----------------------------------------------------------------------------------


def test_a_ban_ends_every_session_refuses_every_way_in_and_lifts_by_itself(client, clock, services):
    admin = admin_session(client, clock, services)
    bob_session = sign_up(client, BOB)
    bob = user_id_of(client, bob_session)
    until = "2027-01-15T12:00:00Z"  # about four hours on
    response = call(
        client, "POST", f"/admin/users/{bob}/ban", {"reason": "spam", "until": until}, admin
    )
    assert response.status_code == 200, response.body
    assert response.json_body["ban"]["until"] == until
    assert response.json_body["ban"]["reason"] == "spam"
    assert_error(call(client, "GET", "/auth/session", token=bob_session), 401, "unauthenticated")
    assert not [
        i
        for i in table_items(services.client, "auth-test")
        if i.get("session_user_id", {}).get("S") == bob
    ]
    assert_error(log_in(client, BOB), 403, "account_disabled")
    sent = len(SesMailbox().messages())
    assert call(client, "POST", "/auth/login/code", {"email": BOB}).status_code == 202
    assert call(client, "POST", "/auth/password-reset", {"email": BOB}).status_code == 202
    assert len(SesMailbox().messages()) == sent  # nothing went out
    found = call(client, "GET", "/admin/users?status=banned", token=admin).json_body["users"]
    assert [(u["email"], u["status"], u["banned_until"]) for u in found] == [(BOB, "banned", until)]
    view = call(client, "GET", f"/admin/users/{bob}", token=admin).json_body
    assert view["ban"]["by"] == user_id_of(client, admin)
    assert view["sessions"] == []
    clock.advance(hours=4, seconds=1)
    assert log_in(client, BOB).status_code == 200  # the ban lifted by itself


def test_unban_lets_the_user_in_again(client, clock, services):
    admin = admin_session(client, clock, services)
    bob = user_id_of(client, sign_up(client, BOB))
    assert (
        call(client, "POST", f"/admin/users/{bob}/ban", {"reason": "spam"}, admin).status_code
        == 200
    )
    assert_error(log_in(client, BOB), 403, "account_disabled")
    assert call(client, "POST", f"/admin/users/{bob}/unban", None, admin).status_code == 204
    assert log_in(client, BOB).status_code == 200


def test_sign_out_ends_every_session_of_the_user(client, clock, services):
    admin = admin_session(client, clock, services)
    first = sign_up(client, BOB)
    second = session_token(log_in(client, BOB))
    bob = user_id_of(client, first)
    assert call(client, "POST", f"/admin/users/{bob}/sign-out", None, admin).status_code == 204
    for token in (first, second):
        assert_error(call(client, "GET", "/auth/session", token=token), 401, "unauthenticated")
    assert log_in(client, BOB).status_code == 200  # signed out, not banned


# -- roles and escalation ---------------------------------------------------------------------


def test_roles_reach_the_users_live_session_on_its_next_request(client, clock, services):
    admin = admin_session(client, clock, services)
    bob_session = sign_up(client, BOB)
    bob = user_id_of(client, bob_session)
    response = call(client, "PUT", f"/admin/users/{bob}/roles", {"roles": ["support"]}, admin)
    assert response.json_body == {"roles": ["support"]}
    seen = call(client, "GET", "/auth/session", token=bob_session).json_body["user"]["roles"]
    assert seen == ["support"]
    token = call(client, "POST", "/auth/token", token=bob_session).json_body["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["roles"] == ["support"]
    assert claims["permissions"] == ["audit:read", "users:read", "users:sign_out"]
    call(client, "PUT", f"/admin/users/{bob}/roles", {"roles": []}, admin)
    assert call(client, "GET", "/auth/session", token=bob_session).json_body["user"]["roles"] == []


def test_no_escalation_in_any_direction(client, clock, services, stage):
    stage(roles=(("editor", frozenset({"notes:write"})),))
    services = runtime.get()
    admin = admin_session(client, clock, services)
    support = admin_session(client, clock, services, CAROL, "support")
    reauthenticate(client, support)
    ann = user_id_of(client, admin)
    bob = user_id_of(client, sign_up(client, BOB))
    # Support lacks the admin's permissions: it acts on no admin, and grants nothing.
    denied = [
        ("POST", f"/admin/users/{ann}/sign-out", None),
        ("POST", f"/admin/users/{bob}/ban", {"reason": "x"}),
        ("PUT", f"/admin/users/{bob}/roles", {"roles": ["support"]}),
        ("POST", f"/admin/users/{bob}/impersonate", {"reason": "x"}),
    ]
    for method, path, body in denied:
        assert_error(call(client, method, path, body, support), 403, "insufficient_permissions")
    # An admin grants no role whose permissions it lacks, and impersonates no admin.
    assert_error(
        call(client, "PUT", f"/admin/users/{bob}/roles", {"roles": ["editor"]}, admin),
        403,
        "insufficient_permissions",
    )
    carol = user_id_of(client, support)
    assert_error(
        call(client, "POST", f"/admin/users/{carol}/impersonate", {"reason": "x"}, admin),
        403,
        "insufficient_permissions",
    )
    # Support signs out whoever holds nothing it lacks.
    assert call(client, "POST", f"/admin/users/{bob}/sign-out", None, support).status_code == 204
    # Given `editor` itself, the admin may hand it out.
    grant(services, ANN, "editor")
    response = call(client, "PUT", f"/admin/users/{bob}/roles", {"roles": ["editor"]}, admin)
    assert response.status_code == 200, response.body


def test_the_last_admin_cannot_be_demoted_banned_or_deleted(client, clock, services):
    admin = admin_session(client, clock, services)
    ann = user_id_of(client, admin)
    assert_error(
        call(client, "PUT", f"/admin/users/{ann}/roles", {"roles": []}, admin), 409, "last_admin"
    )
    deleted = call(client, "DELETE", "/auth/account", {"password": PASSWORD}, admin)
    assert_error(deleted, 409, "last_admin")
    assert call(client, "GET", "/auth/session", token=admin).status_code == 200
    # With a second admin, the first may step down; then the second is the last.
    second = admin_session(client, clock, services, BOB)
    reauthenticate(client, admin)
    assert call(client, "PUT", f"/admin/users/{ann}/roles", {"roles": []}, admin).status_code == 200
    bob = user_id_of(client, second)
    reauthenticate(client, second)
    assert_error(
        call(client, "PUT", f"/admin/users/{bob}/roles", {"roles": []}, second), 409, "last_admin"
    )


def test_an_admin_banned_by_another_cannot_act_and_is_no_longer_counted(client, clock, services):
    first = admin_session(client, clock, services)
    second = admin_session(client, clock, services, BOB)
    reauthenticate(client, first)
    bob = user_id_of(client, second)
    assert (
        call(client, "POST", f"/admin/users/{bob}/ban", {"reason": "x"}, first).status_code == 200
    )
    assert_error(call(client, "GET", "/admin/users", token=second), 401, "unauthenticated")
    ann = user_id_of(client, first)
    assert_error(  # the only unbanned one left
        call(client, "PUT", f"/admin/users/{ann}/roles", {"roles": []}, first), 409, "last_admin"
    )


def test_admin_deletion_removes_what_self_deletion_does_and_mails_a_notice(client, clock, services):
    admin = admin_session(client, clock, services)
    bob_session = sign_up(client, BOB)
    bob = user_id_of(client, bob_session)
    assert call(client, "DELETE", f"/admin/users/{bob}", None, admin).status_code == 204
    left = [
        item["pk"]["S"]
        for item in table_items(services.client, "auth-test")
        # Rate counters are not the account's: they run out on their own, as after
        # self-deletion.
        if (bob in str(item) or BOB in str(item)) and not item["pk"]["S"].startswith("THROTTLE#")
    ]
    assert left == []
    assert SesMailbox().last(BOB).subject == "Your account was deleted"
    assert_error(call(client, "GET", "/auth/session", token=bob_session), 401, "unauthenticated")


# -- impersonation ----------------------------------------------------------------------------


def test_impersonation_names_the_admin_lasts_an_hour_and_changes_nothing(client, clock, services):
    admin = admin_session(client, clock, services)
    bob_session = sign_up(client, BOB)
    bob = user_id_of(client, bob_session)
    ann = user_id_of(client, admin)
    response = call(
        client, "POST", f"/admin/users/{bob}/impersonate", {"reason": "ticket 42"}, admin
    )
    assert response.status_code == 200, response.body
    assert response.json_body["session"]["impersonator"] == {"id": ann, "email": ANN}
    acting = session_token(response)
    assert_error(call(client, "GET", "/auth/session", token=admin), 401, "unauthenticated")
    seen = call(client, "GET", "/auth/session", token=acting).json_body
    assert seen["user"]["email"] == BOB
    assert seen["session"]["impersonator"] == {"id": ann, "email": ANN}
    listed = call(client, "GET", "/auth/sessions", token=bob_session).json_body["sessions"]
    assert [s["impersonator"] for s in listed if not s["current"]] == [{"id": ann, "email": ANN}]
    token = call(client, "POST", "/auth/token", token=acting).json_body["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["act"] == {"sub": ann}
    forbidden = [
        ("POST", "/auth/password", {"current_password": PASSWORD, "new_password": "x" * 20}),
        ("POST", "/auth/email", {"new_email": "new@example.com", "password": PASSWORD}),
        ("POST", "/auth/2fa/totp/setup", {"password": PASSWORD}),
        ("POST", "/auth/passkeys/register/options", {"password": PASSWORD}),
        ("DELETE", "/auth/account", {"password": PASSWORD}),
        ("POST", "/auth/reauthenticate", {"password": PASSWORD}),
        ("POST", "/auth/reauthenticate/code", None),
        ("GET", "/admin/users", None),
    ]
    for method, path, body in forbidden:
        answer = call(client, method, path, body, acting)
        assert_error(answer, 403, "impersonation_forbidden")
    clock.advance(minutes=60, seconds=1)
    assert_error(call(client, "GET", "/auth/session", token=acting), 401, "unauthenticated")


def test_logging_out_ends_an_impersonation(client, clock, services, audit):
    admin = admin_session(client, clock, services)
    ann = user_id_of(client, admin)
    bob = user_id_of(client, sign_up(client, BOB))
    response = call(client, "POST", f"/admin/users/{bob}/impersonate", {"reason": "x"}, admin)
    acting = session_token(response)
    audit.lines.clear()
    assert call(client, "POST", "/auth/logout", token=acting).status_code == 204
    ended = [line for line in audit.lines if line["event"] == "admin_impersonation_ended"]
    assert [(line["user_id"], line["actor_id"]) for line in ended] == [(bob, ann)]
    assert_error(call(client, "GET", "/auth/session", token=acting), 401, "unauthenticated")


def test_a_banned_user_cannot_be_impersonated(client, clock, services):
    admin = admin_session(client, clock, services)
    bob = user_id_of(client, sign_up(client, BOB))
    call(client, "POST", f"/admin/users/{bob}/ban", {"reason": "x"}, admin)
    response = call(client, "POST", f"/admin/users/{bob}/impersonate", {"reason": "x"}, admin)
    assert_error(response, 403, "account_disabled")


def test_roles_config_names_a_bad_entry(settings):
    from chalicelib.config import ConfigError, Settings

    for text in ('{"editor": "notes:write"}', '{"admin": []}', '{"editor": ["notes"]}', "[1]"):
        with pytest.raises(ConfigError, match="ROLES"):
            Settings.from_env({"ROLES": text})
    parsed = Settings.from_env({"ROLES": '{"editor":["notes:write"]}'})
    assert replace(settings, roles=parsed.roles).roles == (("editor", frozenset({"notes:write"})),)


def test_an_actor_whose_roles_were_taken_acts_no_more_even_from_a_session_not_yet_told(
    client, clock, services, monkeypatch
):
    """The index that lists a user's sessions lags, so a role change may miss a session made
    a moment before. What that session's stale roles allow must still fail: every admin change
    commits only while the actor holds the roles it acted with."""
    admin = admin_session(client, clock, services)
    support = admin_session(client, clock, services, CAROL, "support")
    reauthenticate(client, support)
    bob_session = sign_up(client, BOB)
    bob = user_id_of(client, bob_session)
    carol = user_id_of(client, support)
    from chalicelib.store.sessions import SessionItems

    monkeypatch.setattr(SessionItems, "set_roles", lambda self, digest, roles: False)
    reauthenticate(client, admin)
    taken = call(client, "PUT", f"/admin/users/{carol}/roles", {"roles": []}, admin)
    assert taken.status_code == 200, taken.body
    assert call(client, "GET", "/auth/session", token=support).json_body["user"]["roles"] == [
        "support"
    ]  # the stale session
    refused = call(client, "POST", f"/admin/users/{bob}/sign-out", None, support)
    assert refused.status_code == 503
    assert call(client, "GET", "/auth/session", token=bob_session).status_code == 200


def test_a_login_checked_just_before_a_ban_gets_no_session(client, clock, services, dynamodb):
    """The ban lands between the login's read of the account and its write: the login's
    session would escape the ban's sweep, so its write is conditional on the account's
    standing and fails."""
    from tests.test_interleavings import after_the_check

    admin = admin_session(client, clock, services, BOB)
    ann = user_id_of(client, sign_up(client, ANN))

    def ban():
        response = call(client, "POST", f"/admin/users/{ann}/ban", {"reason": "x"}, admin)
        assert response.status_code == 200, response.body

    after_the_check(services, ban)
    assert log_in(client, ANN).status_code == 503  # asked again, it reads the ban: 403
    assert_error(log_in(client, ANN), 403, "account_disabled")
    sessions = [
        item
        for item in table_items(dynamodb, "auth-test")
        if item.get("session_user_id", {}).get("S") == ann
    ]
    assert sessions == []


def test_a_login_that_commits_while_the_ban_lists_sessions_is_swept(
    client, clock, services, dynamodb, monkeypatch
):
    """The login commits after the ban listed the user's sessions and before the ban's own
    write: the ban never saw that session, so it sweeps once more after its commit."""
    from chalicelib.store.sessions import SessionItems

    admin = admin_session(client, clock, services, BOB)
    ann = user_id_of(client, sign_up(client, ANN))
    listing = SessionItems.handles_of_user
    raced: list[str] = []

    def list_then_log_in(self, user_id):
        handles = listing(self, user_id)
        if user_id == ann and not raced:
            raced.append(session_token(log_in(client, ANN)))
        return handles

    monkeypatch.setattr(SessionItems, "handles_of_user", list_then_log_in)
    banned = call(client, "POST", f"/admin/users/{ann}/ban", {"reason": "x"}, admin)
    assert banned.status_code == 200, banned.body
    assert raced, "the login did not run inside the ban"
    assert_error(call(client, "GET", "/auth/session", token=raced[0]), 401, "unauthenticated")
    sessions = [
        item
        for item in table_items(dynamodb, "auth-test")
        if item.get("session_user_id", {}).get("S") == ann
    ]
    assert sessions == []


def test_every_admin_action_is_audited_with_actor_subject_and_reason(
    client, clock, services, audit
):
    admin = admin_session(client, clock, services)
    ann = user_id_of(client, admin)
    bob = user_id_of(client, sign_up(client, BOB))
    audit.lines.clear()
    call(client, "GET", "/admin/users?query=bo", token=admin)
    call(client, "GET", f"/admin/users/{bob}", token=admin)
    call(client, "POST", f"/admin/users/{bob}/ban", {"reason": "chargebacks"}, admin)
    call(client, "POST", f"/admin/users/{bob}/unban", None, admin)
    call(client, "PUT", f"/admin/users/{bob}/roles", {"roles": ["support"]}, admin)
    call(client, "PUT", f"/admin/users/{bob}/roles", {"roles": []}, admin)
    call(client, "POST", f"/admin/users/{bob}/sign-out", None, admin)
    call(client, "POST", f"/admin/users/{bob}/impersonate", {"reason": "ticket 7"}, admin)
    admin_lines = [line for line in audit.lines if line["event"].startswith("admin_")]
    assert [line["event"] for line in admin_lines] == [
        "admin_users_searched",
        "admin_user_viewed",
        "admin_user_banned",
        "admin_user_unbanned",
        "admin_roles_changed",
        "admin_roles_changed",
        "admin_user_signed_out",
        "admin_impersonation_started",
    ]
    assert all(line["actor_id"] == ann for line in admin_lines)
    assert all(line["user_id"] == bob for line in admin_lines[1:])
    assert admin_lines[2]["reason"] == "chargebacks"
    assert admin_lines[-1]["reason"] == "ticket 7"


def test_no_field_a_user_writes_becomes_a_role_or_a_claim(client, clock, services):
    body = {"email": BOB, "password": PASSWORD, "roles": ["admin"], "role_names": ["admin"]}
    signed_up = call(client, "POST", "/auth/signup", body)
    assert signed_up.json_body["user"]["roles"] == []
    token = session_token(signed_up)
    assert call(client, "GET", "/admin/users", token=token).status_code == 403
    issued = call(client, "POST", "/auth/token", {"audience": "api"}, token)
    claims = jwt.decode(issued.json_body["access_token"], options={"verify_signature": False})
    assert (claims["roles"], claims["permissions"]) == ([], [])
    assert "act" not in claims
