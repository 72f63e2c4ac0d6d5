"""Sign-in with a code sent by email, accounts without a password, and re-authentication, through
the routes on moto (DynamoDB and SES) with the fake clock."""

import json
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib import runtime
from chalicelib.flows.email import RESET_RESPONSE_SECONDS
from chalicelib.onetime import CROCKFORD
from chalicelib.sessions import token_digest
from tests.conftest import ORIGIN, START, table_items
from tests.helpers import (
    ANN,
    PASSWORD,
    assert_error,
    call,
    cookie_named,
    session_token,
    sign_up,
    sign_up_with_code,
)

ROOT = Path(__file__).resolve().parent.parent

NEW = "new@example.com"


def items(dynamodb, settings, prefix=""):
    return [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith(prefix)
    ]


def ask(client, email=ANN):
    return call(client, "POST", "/auth/login/code", {"email": email})


def verify(client, code, email=ANN, token=None):
    return call(client, "POST", "/auth/login/code/verify", {"email": email, "code": code}, token)


def code_for(client, mailbox, email=ANN):
    assert ask(client, email).status_code == 202
    return mailbox.code(email)


def user_of(client, token):
    response = call(client, "GET", "/auth/session", token=token)
    assert response.status_code == 200, response.body
    return response.json_body["user"]


# -- asking for a code -----------------------------------------------------------------------------


def test_an_account_gets_a_sign_in_code_and_a_link_that_only_fills_it_in(
    client, mailbox, dynamodb, settings, pauses
):
    sign_up(client)
    response = ask(client, " Ann@Example.com ")
    assert response.status_code == 202
    assert response.json_body == {"status": "accepted"}
    assert pauses[-1] == pytest.approx(RESET_RESPONSE_SECONDS, abs=0.5)  # the reset's floor
    mail = mailbox.last(ANN)
    assert mail.subject == "Your sign-in code"
    code = mailbox.code(ANN)
    assert len(code) == 8
    assert set(code) <= set(CROCKFORD)
    assert "create" not in mail.text
    link = mailbox.link(ANN)
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{ORIGIN}/login/code"
    assert parse_qs(parts.query) == {"email": [ANN], "code": [code]}
    (secret,) = items(dynamodb, settings, "SECRET#login_code#")
    assert secret["pk"]["S"] == f"SECRET#login_code#{ANN}"
    assert code not in json.dumps(secret)  # a digest only
    assert int(secret["valid_until"]["N"]) == START + 10 * 60


def test_an_unknown_address_gets_a_code_that_creates_the_account(client, mailbox, pauses):
    response = ask(client, NEW)
    assert response.status_code == 202
    assert response.json_body == {"status": "accepted"}
    assert "create your" in mailbox.last(NEW).text
    assert len(pauses) == 1  # answered no sooner than the minimum time, as for any address
    assert pauses[0] <= RESET_RESPONSE_SECONDS


def test_with_sign_up_by_code_off_an_unknown_address_gets_nothing_but_the_same_answer(
    client, services, mailbox, dynamodb, settings, pauses
):
    runtime.use(replace(services, settings=replace(services.settings, email_code_signup=False)))
    response = ask(client, NEW)
    assert response.status_code == 202
    assert response.json_body == {"status": "accepted"}
    assert [m for m in mailbox.messages() if m.to == NEW] == []
    assert items(dynamodb, settings, "SECRET#") == []
    assert len(pauses) == 1  # answered no sooner than the minimum time, as for any address
    assert pauses[0] <= RESET_RESPONSE_SECONDS
    # The sends are counted all the same: an attacker learns nothing from the limit either.
    (counter,) = items(dynamodb, settings, "THROTTLE#send-login-code#")
    assert counter["pk"]["S"] == f"THROTTLE#send-login-code#{NEW}"


def test_with_code_sign_in_off_the_routes_are_404(client, services):
    runtime.use(replace(services, settings=replace(services.settings, email_code_login=False)))
    assert_error(ask(client), 404, "not_found")
    assert_error(verify(client, "AAAAAAAA"), 404, "not_found")


def test_three_codes_per_address_per_ten_minutes_account_or_not(client, clock):
    for email in (ANN, NEW):
        for _ in range(3):
            assert ask(client, email).status_code == 202
        limited = ask(client, email)
        assert_error(limited, 429, "too_many_attempts")
        assert 0 < int(limited.headers["Retry-After"]) <= 600
    clock.advance(minutes=10)
    assert ask(client, ANN).status_code == 202


def test_twenty_codes_per_client_address_an_hour(client):
    for n in range(20):
        assert ask(client, f"person{n}@example.com").status_code == 202
    assert_error(ask(client, "one-more@example.com"), 429, "too_many_attempts")


def test_a_malformed_address_is_400(client):
    assert_error(ask(client, "not an address"), 400, "invalid_email")
    assert_error(call(client, "POST", "/auth/login/code", {"email": 7}), 400, "invalid_request")


# -- signing in with it ---------------------------------------------------------------------------


def test_the_code_signs_in_once_and_replaces_the_clients_session(
    client, mailbox, dynamodb, settings
):
    old = sign_up(client)
    code = code_for(client, mailbox)
    response = verify(client, code.lower(), " ANN@example.com", token=old)
    assert response.status_code == 200, response.body
    assert response.json_body["two_factor_required"] is False
    user = response.json_body["user"]
    assert (user["email"], user["email_verified"], user["has_password"]) == (ANN, True, True)
    token, attributes = cookie_named(response, "auth_session")
    assert {"httponly", "path", "samesite", "max-age", "expires"} <= set(attributes)
    assert user_of(client, token)["email"] == ANN
    assert_error(call(client, "GET", "/auth/session", token=old), 401, "unauthenticated")
    pks = {i["pk"]["S"] for i in items(dynamodb, settings, "SESSION#")}
    assert f"SESSION#{token_digest(old)}" not in pks
    (used,) = items(dynamodb, settings, "SECRET#login_code#")
    assert "used_at" in used  # used up
    assert_error(verify(client, code), 400, "invalid_code")  # and single use


def test_a_code_account_has_no_password_and_a_verified_email(client, mailbox, dynamodb, settings):
    code = code_for(client, mailbox, NEW)
    response = verify(client, code, NEW)
    assert response.status_code == 201
    assert response.json_body["two_factor_required"] is False
    user = response.json_body["user"]
    assert user == {
        "id": user["id"],
        "email": NEW,
        "email_verified": True,
        "two_factor_enabled": False,
        "has_password": False,
        "roles": [],
    }
    assert user_of(client, session_token(response)) == user
    (claim,) = items(dynamodb, settings, "EMAIL#")
    assert "password_hash" not in claim
    assert claim["email_verified"] == {"BOOL": True}
    (account,) = items(dynamodb, settings, "USER#")
    assert account["has_password"] == {"BOOL": False}
    # A second code signs in to the account it made, and makes no other.
    again = verify(client, code_for(client, mailbox, NEW), NEW)
    assert again.status_code == 200
    assert again.json_body["user"]["id"] == user["id"]
    assert len(items(dynamodb, settings, "USER#")) == 1


def test_a_password_login_to_an_account_without_one_is_a_wrong_password(
    client, mailbox, dynamodb, settings
):
    sign_up_with_code(client, NEW)
    unknown = call(client, "POST", "/auth/login", {"email": "nobody@x.example", "password": "x"})
    response = call(client, "POST", "/auth/login", {"email": NEW, "password": PASSWORD})
    assert response.status_code == unknown.status_code == 401
    assert response.json_body == unknown.json_body
    (counter,) = items(dynamodb, settings, f"THROTTLE#email#{NEW}")
    assert counter["count"] == {"N": "1"}  # counted like any wrong password


def test_wrong_expired_used_and_unknown_codes_get_one_answer(client, mailbox, clock):
    sign_up(client)
    code = code_for(client, mailbox)
    wrong = verify(client, "ZZZZZZZZ")
    unknown = verify(client, code, "nobody@example.com")
    clock.advance(minutes=10)
    expired = verify(client, code)
    for response in (wrong, unknown, expired):
        assert_error(response, 400, "invalid_code")
    assert wrong.json_body == expired.json_body == unknown.json_body


def test_a_new_code_replaces_the_old(client, mailbox):
    sign_up(client)
    first = code_for(client, mailbox)
    second = code_for(client, mailbox)
    assert first != second
    assert_error(verify(client, first), 400, "invalid_code")
    assert verify(client, second).status_code == 200


def test_five_wrong_codes_lock_the_address_the_right_one_included(
    client, mailbox, clock, dynamodb, settings
):
    sign_up(client)
    code = code_for(client, mailbox)
    for _ in range(5):
        assert_error(verify(client, "ZZZZZZZZ"), 400, "invalid_code")
    locked = verify(client, code)
    assert_error(locked, 429, "too_many_attempts")
    assert 0 < int(locked.headers["Retry-After"]) <= 30 * 60
    assert items(dynamodb, settings, "SECRET#login_code#")  # not used up by the refusal
    clock.advance(minutes=30)
    assert verify(client, code_for(client, mailbox)).status_code == 200
    assert items(dynamodb, settings, "THROTTLE#login-code#") == []  # a success clears the count


def test_a_success_clears_earlier_wrong_codes(client, mailbox, dynamodb, settings):
    sign_up(client)
    for _ in range(4):
        verify(client, "ZZZZZZZZ")
    assert verify(client, code_for(client, mailbox)).status_code == 200
    assert items(dynamodb, settings, "THROTTLE#login-code#") == []
    for _ in range(5):
        assert_error(verify(client, "ZZZZZZZZ"), 400, "invalid_code")  # five again


def test_wrong_codes_for_an_address_without_an_account_count_too(client):
    for _ in range(5):
        assert_error(verify(client, "ZZZZZZZZ", NEW), 400, "invalid_code")
    assert_error(verify(client, "ZZZZZZZZ", NEW), 429, "too_many_attempts")


def test_an_emailed_code_is_one_factor(client, mailbox, clock):
    import pyotp

    token = sign_up(client)
    setup = call(client, "POST", "/auth/2fa/totp/setup", {"password": PASSWORD}, token).json_body
    enabled = call(
        client,
        "POST",
        "/auth/2fa/totp/enable",
        {"code": pyotp.TOTP(setup["secret"]).at(clock.now())},
        token,
    )
    assert enabled.status_code == 200
    response = verify(client, code_for(client, mailbox))
    assert response.status_code == 200
    assert response.json_body["two_factor_required"] is True
    owed = session_token(response)
    assert_error(call(client, "GET", "/trainings", token=owed), 403, "two_factor_required")


def test_the_first_code_of_an_unverified_account_removes_what_was_set_up_before_it(
    client, mailbox, dynamodb, settings, audit
):
    """Someone signed up with Ann's address and a password of theirs, and stayed signed in;
    when Ann proves the address, their password and session are gone (every way in:
    tests/test_mailbox.py)."""
    squatter = sign_up(client, verified=False)
    assert user_of(client, squatter)["email_verified"] is False
    response = verify(client, code_for(client, mailbox))
    assert response.status_code == 200
    user = response.json_body["user"]
    assert (user["email_verified"], user["has_password"]) == (True, False)
    assert_error(call(client, "GET", "/auth/session", token=squatter), 401, "unauthenticated")
    login = call(client, "POST", "/auth/login", {"email": ANN, "password": PASSWORD})
    assert_error(login, 401, "invalid_credentials")
    (claim,) = items(dynamodb, settings, "EMAIL#")
    assert "password_hash" not in claim
    assert len(items(dynamodb, settings, "SESSION#")) == 1
    removed = next(line for line in audit.lines if line["event"] == "unproven_credentials_removed")
    assert (removed["password"], removed["totp"], removed["passkeys"]) == (1, 0, 0)


def test_parallel_sign_ups_by_code_would_make_one_account(client, mailbox, dynamodb, settings):
    """The second verification with one code (as if run in parallel) finds it used."""
    code = code_for(client, mailbox, NEW)
    assert verify(client, code, NEW).status_code == 201
    assert_error(verify(client, code, NEW), 400, "invalid_code")
    assert len(items(dynamodb, settings, "USER#")) == 1


def test_codes_are_audited_never_written_down(client, mailbox, audit):
    code = code_for(client, mailbox, NEW)
    verify(client, "ZZZZZZZZ", NEW)
    verify(client, code, NEW)
    assert [e for e in audit.events if e != "email_verification_sent"] == [
        "code_sent",
        "code_failure",
        "signup",
    ]
    signup = audit.lines[-1]
    assert signup["method"] == "code"
    assert code not in json.dumps(audit.lines)


# -- re-authentication ----------------------------------------------------------------------------


def test_a_re_authentication_code_counts_only_for_the_session_that_asked(client, mailbox):
    first = sign_up_with_code(client, NEW)
    second = session_token(verify(client, code_for(client, mailbox, NEW), NEW))
    assert call(client, "POST", "/auth/reauthenticate/code", None, first).status_code == 202
    code = {"code": mailbox.code(NEW)}
    elsewhere = call(client, "POST", "/auth/reauthenticate", code, second)
    assert_error(elsewhere, 400, "invalid_code")
    assert call(client, "POST", "/auth/2fa/totp/setup", {}, second).status_code == 401
    asked_here = call(client, "POST", "/auth/reauthenticate", code, first)
    assert asked_here.status_code == 200, asked_here.body


def test_a_code_re_authenticates_an_account_without_a_password(client, mailbox, clock):
    token = sign_up_with_code(client, NEW)
    assert_error(
        call(client, "POST", "/auth/2fa/totp/setup", None, token), 401, "reauthentication_required"
    )
    asked = call(client, "POST", "/auth/reauthenticate/code", None, token)
    assert asked.status_code == 202
    assert asked.json_body == {"status": "accepted"}
    mail = mailbox.last(NEW)
    assert mail.subject == "Your confirmation code"
    response = call(client, "POST", "/auth/reauthenticate", {"code": mailbox.code(NEW)}, token)
    assert response.status_code == 200, response.body
    until = response.json_body["reauthenticated_until"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", until)
    assert until == "2027-01-15T08:05:00Z"  # START + 5 minutes
    assert call(client, "POST", "/auth/2fa/totp/setup", None, token).status_code == 200
    clock.advance(minutes=5)
    stale = call(client, "POST", "/auth/2fa/totp/setup", {}, token)
    assert_error(stale, 401, "reauthentication_required")


def test_re_authentication_codes_are_single_use_and_counted_like_sign_in_codes(client, mailbox):
    token = sign_up_with_code(client, NEW)
    call(client, "POST", "/auth/reauthenticate/code", None, token)
    code = mailbox.code(NEW)
    assert call(client, "POST", "/auth/reauthenticate", {"code": code}, token).status_code == 200
    used = call(client, "POST", "/auth/reauthenticate", {"code": code}, token)
    assert_error(used, 400, "invalid_code")  # refused, but no guess: not counted
    for _ in range(5):
        call(client, "POST", "/auth/reauthenticate", {"code": "ZZZZZZZZ"}, token)
    locked = call(client, "POST", "/auth/reauthenticate", {"code": code}, token)
    assert_error(locked, 429, "too_many_attempts")
    # Sign-in codes keep their own count: a signed-in guesser cannot lock the owner out.
    assert_error(verify(client, "ZZZZZZZZ", NEW), 400, "invalid_code")


def test_re_authentication_by_password_is_checked_like_a_login(client, mailbox, dynamodb, settings):
    token = sign_up(client)
    wrong = call(client, "POST", "/auth/reauthenticate", {"password": "not it at all"}, token)
    assert_error(wrong, 401, "invalid_credentials")
    (counter,) = items(dynamodb, settings, f"THROTTLE#email#{ANN}")
    assert counter["count"] == {"N": "1"}
    for body in ({}, {"password": PASSWORD, "code": "AAAAAAAA"}):
        assert_error(
            call(client, "POST", "/auth/reauthenticate", body, token), 400, "invalid_request"
        )
    right = call(client, "POST", "/auth/reauthenticate", {"password": PASSWORD}, token)
    assert right.status_code == 200
    assert call(client, "DELETE", "/auth/account", None, token).status_code == 204
    assert items(dynamodb, settings, "USER#") == []


def test_a_sign_in_does_not_re_authenticate_by_itself(client, mailbox):
    sign_up(client)
    by_password = session_token(
        call(client, "POST", "/auth/login", {"email": ANN, "password": PASSWORD})
    )
    by_code = session_token(verify(client, code_for(client, mailbox)))
    for token in (by_password, by_code):
        response = call(client, "DELETE", "/auth/account", {}, token)
        assert_error(response, 401, "reauthentication_required")


def test_a_sensitive_change_with_the_password_re_authenticates_for_five_minutes(
    client, mailbox, clock
):
    token = sign_up(client)
    setup = call(client, "POST", "/auth/2fa/totp/setup", {"password": PASSWORD}, token)
    assert setup.status_code == 200
    again = call(client, "POST", "/auth/email", {"new_email": "ann@new.example"}, token)
    assert again.status_code == 202  # no password needed within the 5 minutes
    clock.advance(minutes=5)
    stale = call(client, "POST", "/auth/email", {"new_email": "ann@new.example"}, token)
    assert_error(stale, 401, "reauthentication_required")


# -- setting a password ---------------------------------------------------------------------------


def test_an_account_without_a_password_sets_its_first_after_re_authenticating(
    client, mailbox, dynamodb, settings
):
    token = sign_up_with_code(client, NEW)
    unproven = call(client, "POST", "/auth/password", {"new_password": PASSWORD}, token)
    assert_error(unproven, 401, "reauthentication_required")
    call(client, "POST", "/auth/reauthenticate/code", None, token)
    call(client, "POST", "/auth/reauthenticate", {"code": mailbox.code(NEW)}, token)
    weak = call(client, "POST", "/auth/password", {"new_password": "password1"}, token)
    assert_error(weak, 400, "weak_password")
    response = call(client, "POST", "/auth/password", {"new_password": PASSWORD}, token)
    assert response.status_code == 200, response.body
    assert response.json_body["user"]["has_password"] is True
    assert mailbox.last(NEW).subject == "A password was added to your account"
    new = session_token(response)  # sessions rotated: the old cookie is dead
    assert_error(call(client, "GET", "/auth/session", token=token), 401, "unauthenticated")
    assert user_of(client, new)["has_password"] is True
    (account,) = items(dynamodb, settings, "USER#")
    assert account["has_password"] == {"BOOL": True}
    login = call(client, "POST", "/auth/login", {"email": NEW, "password": PASSWORD})
    assert login.status_code == 200


def test_a_password_reset_gives_an_account_without_one_its_password(client, mailbox):
    sign_up_with_code(client, NEW)
    assert call(client, "POST", "/auth/password-reset", {"email": NEW}).status_code == 202
    token = parse_qs(urlsplit(mailbox.link(NEW)).query)["token"][0]
    body = {"token": token, "new_password": PASSWORD}
    response = call(client, "POST", "/auth/password-reset/confirm", body)
    assert response.status_code == 200, response.body
    assert response.json_body["user"]["has_password"] is True
    login = call(client, "POST", "/auth/login", {"email": NEW, "password": PASSWORD})
    assert login.status_code == 200


def test_docs_table_of_emailed_codes_is_the_one_the_code_follows():
    """docs/accounts.md's table is read by people writing clients: each row's lifetime, sends
    and wrong codes are RULES' own numbers."""
    from chalicelib.flows.mailed_codes import RULES

    table = (ROOT / "docs" / "accounts.md").read_text()
    for purpose, rule in RULES.items():
        (row,) = [line for line in table.splitlines() if line.startswith(f"| `{purpose}` |")]
        _, _, lives, sends, wrong, _ = [cell.strip() for cell in row.strip("|").split("|")]
        assert lives == f"{rule.minutes} minutes"
        assert sends.startswith(f"{rule.sends.max} per ")
        assert f"per {rule.sends.window // 60} minutes" in sends
        if not wrong.startswith("("):  # a shared count is described on the row it is shared with
            assert wrong.startswith(f"{rule.failures.max} per ")
            assert f"per {rule.failures.window // 60} minutes" in wrong
        if rule.sends_per_ip is not None:
            assert str(rule.sends_per_ip.max) in sends
