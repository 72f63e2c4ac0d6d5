"""Account security through the routes: cross-origin protection, throttling, session
management, password change, account deletion, password quality, audit log."""

import json

import pytest

from chalicelib.errors import CrossOriginRequest, WeakPassword
from chalicelib.sessions import token_digest
from tests import helpers
from tests.conftest import table_items
from tests.helpers import (
    PASSWORD,
    call,
    error_body,
    parse_set_cookie,
    session_token,
    set_cookies,
    sign_up,
)

NEW_PASSWORD = "a brand new passphrase"


def log_in(client, email="ann@example.com", password=PASSWORD, user_agent="Firefox"):
    return helpers.log_in(client, email, password, headers={"User-Agent": user_agent})


def status(client, token) -> int:
    return call(client, "GET", "/trainings", token=token).status_code


def items(dynamodb, settings, prefix=""):
    return [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith(prefix)
    ]


# -- cross-origin protection ------------------------------------------------------------------

CROSS_SITE = [
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.test"},
    {"Sec-Fetch-Site": "same-site", "Origin": "https://sub.example.com"},
    {"Origin": "https://evil.test"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_a_cross_site_logout_is_refused_and_the_session_stays_valid(client, headers):
    token = sign_up(client, verified=False)
    response = call(client, "POST", "/auth/logout", token=token, headers=headers)
    assert response.status_code == 403
    assert response.json_body == error_body(CrossOriginRequest)
    assert set_cookies(response.headers) == []
    assert status(client, token) == 200


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_state_changes_write_nothing(client, headers, dynamodb, settings):
    token = sign_up(client, verified=False)
    before = table_items(dynamodb, settings.table_name)
    for method, path, body in [
        ("POST", "/auth/signup", {"email": "bob@example.com", "password": PASSWORD}),
        ("POST", "/auth/login", {"email": "ann@example.com", "password": PASSWORD}),
        ("POST", "/auth/login", {"email": "ann@example.com", "password": "wrong password"}),
        ("POST", "/auth/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("DELETE", "/auth/account", {"password": PASSWORD}),
        ("DELETE", "/auth/sessions", None),
    ]:
        response = call(client, method, path, body, token=token, headers=headers)
        assert response.status_code == 403, path
    assert table_items(dynamodb, settings.table_name) == before


def test_same_origin_and_non_browser_requests_are_allowed(client):
    token = sign_up(client, verified=False)
    same_origin = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}
    old_browser = {"Host": "api.example.com:8000", "Origin": "http://api.example.com:8000"}
    for headers in (same_origin, old_browser, {}):
        response = log_in(client) if not headers else call(
            client, "POST", "/auth/login",
            {"email": "ann@example.com", "password": PASSWORD}, headers=headers,
        )  # fmt: skip
        assert response.status_code == 200
    assert status(client, token) == 200


def test_get_requests_are_never_blocked(client):
    token = sign_up(client, verified=False)
    headers = {"Cookie": f"auth_session={token}", "Sec-Fetch-Site": "cross-site"}
    assert client.http.get("/trainings", headers=headers).status_code == 200


# -- login throttling ------------------------------------------------------------------------


def test_after_five_failures_even_the_right_password_gets_429(client, clock):
    sign_up(client, verified=False)
    for _ in range(5):
        assert log_in(client, password="wrong password").status_code == 401
    response = log_in(client)
    assert response.status_code == 429
    assert response.json_body["error"]["code"] == "too_many_attempts"
    assert response.headers["Retry-After"] == "60"
    assert set_cookies(response.headers) == []
    clock.advance(seconds=60)
    assert log_in(client).status_code == 200


def test_throttling_counts_the_normalised_email(client):
    sign_up(client, verified=False)
    for email in ["ann@example.com", "ANN@example.com", " Ann@Example.com", "ann@EXAMPLE.COM"]:
        log_in(client, email=email, password="wrong password")
    log_in(client, email="ann@example.com ", password="wrong password")
    assert log_in(client).status_code == 429


def test_unknown_emails_are_throttled_too(client):
    for _ in range(5):
        assert log_in(client, email="nobody@example.com").status_code == 401
    assert log_in(client, email="nobody@example.com").status_code == 429


def test_a_successful_login_clears_the_email_counter(client, dynamodb, settings):
    sign_up(client, verified=False)
    for _ in range(4):
        log_in(client, password="wrong password")
    assert log_in(client).status_code == 200
    assert items(dynamodb, settings, "THROTTLE#email#") == []
    for _ in range(4):
        assert log_in(client, password="wrong password").status_code == 401
    assert log_in(client).status_code == 200


def test_signup_and_session_checks_never_touch_the_login_counters(client, calls):
    calls.clear()
    token = sign_up(client, verified=False)
    status(client, token)
    assert "BatchGetItem" not in calls.operations
    for _, params in calls.calls:
        assert "THROTTLE#email#" not in json.dumps(params)
        assert "THROTTLE#ip#" not in json.dumps(params)


# -- session management ---------------------------------------------------------------------


def test_sessions_are_listed_newest_first_with_the_current_one_marked(client, clock):
    sign_up(client, verified=False, headers={"User-Agent": "Firefox on Linux"})
    clock.advance(seconds=10)
    phone = session_token(log_in(client, user_agent="Safari on iPhone"))
    clock.advance(seconds=10)
    laptop = session_token(log_in(client, user_agent="x" * 1000))
    response = call(client, "GET", "/auth/sessions", token=phone)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    sessions = response.json_body["sessions"]
    assert [s["user_agent"] for s in sessions] == [
        "x" * 256,
        "Safari on iPhone",
        "Firefox on Linux",
    ]
    assert [s["current"] for s in sessions] == [False, True, False]
    assert sessions[2]["created_at"] == "2027-01-15T08:00:00Z"
    assert sessions[0]["expires_at"] == "2027-02-14T08:00:20Z"
    assert all(s["ip"] == "127.0.0.1" for s in sessions)
    assert set(sessions[0]) == {
        "id", "created_at", "last_used_at", "expires_at", "user_agent", "ip", "current",
        "impersonator",
    }  # fmt: skip
    assert all(s["impersonator"] is None for s in sessions)
    listing = json.dumps(sessions)
    for token in (phone, laptop):
        assert token not in listing
        assert token_digest(token) not in listing


def test_a_session_id_is_useless_as_a_cookie(client):
    token = sign_up(client, verified=False)
    (listed,) = call(client, "GET", "/auth/sessions", token=token).json_body["sessions"]
    assert status(client, listed["id"]) == 401


def test_listing_uses_the_index_not_a_scan(client, calls):
    token = sign_up(client, verified=False)
    calls.clear()
    call(client, "GET", "/auth/sessions", token=token)
    # The index holds keys only: the live fields come from the base table, in one batch.
    assert calls.operations == ["GetItem", "Query", "BatchGetItem"]
    assert calls.calls[1][1]["IndexName"] == "user_session_keys"


def test_last_used_is_updated_at_most_hourly(client, clock):
    token = sign_up(client, verified=False)
    clock.advance(minutes=30)
    status(client, token)
    (listed,) = call(client, "GET", "/auth/sessions", token=token).json_body["sessions"]
    assert listed["last_used_at"] == "2027-01-15T08:00:00Z"
    clock.advance(minutes=30)
    status(client, token)
    (listed,) = call(client, "GET", "/auth/sessions", token=token).json_body["sessions"]
    assert listed["last_used_at"] == "2027-01-15T09:00:00Z"


def test_revoking_a_session_kills_its_cookie_at_once(client):
    sign_up(client, verified=False)
    laptop = session_token(log_in(client, user_agent="laptop"))
    phone = session_token(log_in(client, user_agent="phone"))
    listed = call(client, "GET", "/auth/sessions", token=laptop).json_body["sessions"]
    (phone_id,) = [s["id"] for s in listed if s["user_agent"] == "phone"]
    response = call(client, "DELETE", f"/auth/sessions/{phone_id}", token=laptop)
    assert response.status_code == 204
    assert set_cookies(response.headers) == []
    assert status(client, phone) == 401
    assert status(client, laptop) == 200


def test_revoking_the_current_session_signs_out(client):
    token = sign_up(client, verified=False)
    (listed,) = call(client, "GET", "/auth/sessions", token=token).json_body["sessions"]
    response = call(client, "DELETE", f"/auth/sessions/{listed['id']}", token=token)
    assert response.status_code == 204
    assert parse_set_cookie(set_cookies(response.headers)[0])[1] == ""
    assert status(client, token) == 401


@pytest.mark.parametrize("session_id", ["someone-elses", "does-not-exist"])
def test_revoking_another_users_or_an_unknown_session_is_404(client, session_id):
    ann = sign_up(client, verified=False)
    bob = sign_up(client, "bob@example.com", verified=False)
    if session_id == "someone-elses":
        session_id = call(client, "GET", "/auth/sessions", token=bob).json_body["sessions"][0]["id"]
    response = call(client, "DELETE", f"/auth/sessions/{session_id}", token=ann)
    assert response.status_code == 404
    assert response.json_body["error"]["code"] == "not_found"
    assert status(client, bob) == 200


def test_revoking_all_other_sessions_keeps_the_current_one(client):
    current = sign_up(client, verified=False)
    others = [session_token(log_in(client)) for _ in range(3)]
    bob = sign_up(client, "bob@example.com", verified=False)
    assert call(client, "DELETE", "/auth/sessions", token=current).status_code == 204
    assert [status(client, t) for t in others] == [401, 401, 401]
    assert status(client, current) == 200
    assert status(client, bob) == 200
    assert len(call(client, "GET", "/auth/sessions", token=current).json_body["sessions"]) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/auth/sessions"), ("DELETE", "/auth/sessions"), ("DELETE", "/auth/sessions/x")],
)
def test_session_management_needs_a_session(client, method, path):
    assert call(client, method, path).status_code == 401


# -- password change -----------------------------------------------------------------------


def change(client, token, current=PASSWORD, new=NEW_PASSWORD):
    body = {"current_password": current, "new_password": new}
    return call(client, "POST", "/auth/password", body, token=token)


def test_password_change_revokes_every_session_and_issues_a_new_one(client, dynamodb, settings):
    current = sign_up(client, verified=False)
    other = session_token(log_in(client))
    response = change(client, current)
    assert response.status_code == 200
    assert response.json_body["user"]["email"] == "ann@example.com"
    new = session_token(response)
    assert new not in (current, other)
    assert [status(client, t) for t in (current, other, new)] == [401, 401, 200]
    assert [i["pk"]["S"] for i in items(dynamodb, settings, "SESSION#")] == [
        f"SESSION#{token_digest(new)}"
    ]
    assert log_in(client).status_code == 401
    assert log_in(client, password=NEW_PASSWORD).status_code == 200


def test_wrong_current_password_is_401_and_counts_towards_throttling(client):
    token = sign_up(client, verified=False)
    for _ in range(5):
        response = change(client, token, current="wrong password")
        assert response.status_code == 401
        assert response.json_body["error"]["code"] == "invalid_credentials"
    assert change(client, token).status_code == 429
    assert status(client, token) == 200  # nothing was revoked
    assert log_in(client).status_code == 429


@pytest.mark.parametrize(
    ("new", "code"), [("short", "invalid_password"), ("password1", "weak_password")]
)
def test_a_bad_new_password_is_400_and_changes_nothing(client, new, code):
    token = sign_up(client, verified=False)
    response = change(client, token, new=new)
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == code
    assert status(client, token) == 200
    assert log_in(client).status_code == 200


def test_password_change_needs_a_session(client):
    assert change(client, None).status_code == 401


# -- account deletion ----------------------------------------------------------------------


def test_deleting_the_account_removes_everything_and_frees_the_email(client, dynamodb, settings):
    token = sign_up(client, verified=False)
    other = session_token(log_in(client))
    bob = sign_up(client, "bob@example.com", verified=False)
    response = call(client, "DELETE", "/auth/account", {"password": PASSWORD}, token=token)
    assert response.status_code == 204
    assert parse_set_cookie(set_cookies(response.headers)[0])[1] == ""
    assert status(client, token) == 401
    assert status(client, other) == 401
    remaining = table_items(dynamodb, settings.table_name)
    # Bob's account, claim, session and verification code, and counters with a TTL.
    assert {i["pk"]["S"].split("#")[0] for i in remaining} == {
        "USER",
        "EMAIL",
        "SESSION",
        "SECRET",
        "THROTTLE",
    }
    (bob_user,) = items(dynamodb, settings, "USER#")
    bob_id = bob_user["pk"]["S"].removeprefix("USER#")
    for item in remaining:
        if not item["pk"]["S"].startswith("THROTTLE#"):
            assert bob_id in json.dumps(item) or item["pk"]["S"] == "EMAIL#bob@example.com"
    assert status(client, bob) == 200
    assert log_in(client).status_code == 401
    sign_up(client, verified=False)  # the email is free again


def test_account_deletion_with_a_wrong_password_deletes_nothing(client, dynamodb, settings):
    token = sign_up(client, verified=False)

    def all_but_login_counters():
        return [
            i
            for i in table_items(dynamodb, settings.table_name)
            if not i["pk"]["S"].startswith(("THROTTLE#email#", "THROTTLE#ip#"))
        ]

    before = all_but_login_counters()
    response = call(client, "DELETE", "/auth/account", {"password": "wrong password"}, token=token)
    assert response.status_code == 401
    assert set_cookies(response.headers) == []
    assert all_but_login_counters() == before


# -- password quality ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["password", "12345678", "iloveyou", "Password1", "QWERTYUIOP"]
)
def test_common_passwords_are_refused_at_signup(client, password, dynamodb, settings):
    response = call(
        client, "POST", "/auth/signup", {"email": "a@example.com", "password": password}
    )
    assert response.status_code == 400
    assert response.json_body == error_body(WeakPassword)
    assert table_items(dynamodb, settings.table_name) == []


# -- audit log -----------------------------------------------------------------------------


def test_every_auth_event_is_logged_once_without_secrets(client, audit, clock):
    ann = sign_up(client, verified=False)
    log_in(client, password="wrong password")
    other = session_token(log_in(client))
    call(client, "POST", "/auth/logout", token=other)
    listed = call(client, "GET", "/auth/sessions", token=ann).json_body["sessions"]
    extra = session_token(log_in(client))
    extra_id = next(
        s["id"] for s in call(client, "GET", "/auth/sessions", token=ann).json_body["sessions"]
        if s["id"] != listed[0]["id"]
    )  # fmt: skip
    call(client, "DELETE", f"/auth/sessions/{extra_id}", token=ann)
    new = session_token(change(client, ann))
    for _ in range(5):
        log_in(client, password="wrong password")
    log_in(client, password=NEW_PASSWORD)
    clock.advance(minutes=20)
    call(client, "DELETE", "/auth/account", {"password": NEW_PASSWORD}, token=new)

    assert audit.events == [
        "signup",
        "email_verification_sent",
        "login_failure",
        "login_success",
        "logout",
        "login_success",
        "session_revoked",
        "reauthenticated",  # the current password, given to change it
        "password_changed",
        *["login_failure"] * 5,
        "login_throttled",
        "reauthenticated",
        "account_deleted",
    ]
    user_id = audit.lines[0]["user_id"]
    for line in audit.lines:
        assert {"event", "user_id", "ip", "user_agent", "timestamp"} <= set(line)
        assert line["ip"] == "127.0.0.1"
        assert line["timestamp"].endswith("Z")
        if line["event"] not in ("login_failure", "login_throttled"):
            assert line["user_id"] == user_id
    text = json.dumps(audit.lines)
    for secret in (PASSWORD, NEW_PASSWORD, "wrong password", ann, other, extra, new):
        assert secret not in text
    for token in (ann, other, extra, new):
        assert token_digest(token) not in text
    assert "$argon2" not in text


def test_reauthentication_is_throttled_audited_and_cleared_like_a_login(
    client, audit, dynamodb, settings
):
    token = sign_up(client, verified=False)
    for _ in range(4):
        assert change(client, token, current="wrong password").status_code == 401
    new = session_token(change(client, token))  # a success forgets the email's failures
    assert items(dynamodb, settings, "THROTTLE#email#") == []
    for _ in range(5):
        change(client, new, current="wrong password", new="another fine passphrase")
    assert change(client, new, new="another fine passphrase").status_code == 429
    assert audit.events[-6:] == [*["login_failure"] * 5, "login_throttled"]
    assert audit.lines[-1]["event"] == "login_throttled"
    assert audit.lines[-1]["reason"] == "reauthentication"
    assert audit.lines[-1]["user_id"] == audit.lines[0]["user_id"]


def test_a_failed_final_sweep_still_reports_the_deletion(client, services, caplog):
    """The account is gone once its transaction commits: a retry could only get 401."""
    from unittest import mock

    from chalicelib.errors import ServiceUnavailable

    token = sign_up(client, verified=False)
    with mock.patch.object(
        services.sessions, "invalidate_user_sessions", side_effect=ServiceUnavailable()
    ):
        response = call(client, "DELETE", "/auth/account", {"password": PASSWORD}, token=token)
    assert response.status_code == 204
    assert parse_set_cookie(set_cookies(response.headers)[0])[1] == ""
    assert "final sweep of its sessions failed" in caplog.text
    assert log_in(client).status_code == 401


def test_an_unverified_user_can_delete_the_account_on_a_strict_stage(
    client, stage, dynamodb, settings
):
    """REQUIRE_VERIFIED_EMAIL keeps resources closed until the address is verified; deleting
    the account is never behind it (the address may be the very thing that is wrong)."""
    stage(require_verified_email=True)
    token = sign_up(client, verified=False)
    assert call(client, "GET", "/trainings", token=token).status_code == 403
    response = call(client, "DELETE", "/auth/account", {"password": PASSWORD}, token=token)
    assert response.status_code == 204, response.body
    assert items(dynamodb, settings, "USER#") == []
