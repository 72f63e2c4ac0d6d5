"""The email flows through the routes on moto (DynamoDB and SES), with an injected clock:
verification, password reset, email change, and the mail they send."""

import json
import re
from dataclasses import replace
from unittest import mock

import pytest

from chalicelib import runtime
from chalicelib.errors import ServiceUnavailable
from chalicelib.flows.email import RESET_RESPONSE_SECONDS
from chalicelib.onetime import CROCKFORD
from chalicelib.sessions import token_digest
from tests.conftest import MAIL_FROM, ORIGIN, table_items
from tests.helpers import (
    ANN,
    NEW_PASSWORD,
    PASSWORD,
    assert_error,
    call,
    log_in,
    session_token,
    set_cookies,
    sign_up,
)


def items(dynamodb, settings, prefix=""):
    return [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith(prefix)
    ]


def user_of(client, token):
    response = call(client, "GET", "/auth/session", token=token)
    assert response.status_code == 200, response.body
    return response.json_body["user"]


def assert_a_plain_notice(mail, to, subject):
    """Every message: to the right address, from MAIL_FROM, both parts, says what to do if it
    was not you, no tracking (no images, no link but to our own origin)."""
    assert (mail.to, mail.subject) == (to, subject)
    assert MAIL_FROM in mail.sender
    assert mail.text.strip()
    assert mail.html.strip()
    assert "not you" in mail.text or "did not" in mail.text
    assert "<img" not in mail.html.lower()
    for url in re.findall(r"https?://[^\s\"'<>]+", mail.text + mail.html):
        assert url.startswith(ORIGIN), url


# -- verification -----------------------------------------------------------------------------


def test_sign_up_sends_a_code_and_stores_only_its_digest(client, mailbox, dynamodb, settings):
    token = sign_up(client, " Ann@Example.com", verified=False)
    user = user_of(client, token)
    assert user["email_verified"] is False
    (mail,) = mailbox.messages()
    assert_a_plain_notice(mail, ANN, "Your verification code")
    code = mailbox.code(ANN)
    assert len(code) == 8
    assert set(code) <= set(CROCKFORD)
    assert code in mail.html
    (secret,) = items(dynamodb, settings, "SECRET#verify_email#")
    assert secret["pk"]["S"] == f"SECRET#verify_email#{user['id']}"
    assert code not in json.dumps(table_items(dynamodb, settings.table_name))
    assert int(secret["valid_until"]["N"]) == 1_800_000_000 + 15 * 60
    assert int(secret["expires_at"]["N"]) > int(secret["valid_until"]["N"])  # TTL


def test_the_right_code_verifies_and_rotates_every_session(client, mailbox, dynamodb, settings):
    token = sign_up(client, verified=False)
    other = session_token(log_in(client))
    response = call(client, "POST", "/auth/email/verify", {"code": mailbox.code(ANN)}, token=token)
    assert response.status_code == 200, response.body
    assert response.json_body["user"]["email_verified"] is True
    rotated = session_token(response)
    assert rotated != token
    assert user_of(client, rotated)["email_verified"] is True
    for old in (token, other):
        assert call(client, "GET", "/auth/session", token=old).status_code == 401
    # Used up: what stays until its TTL is a digest marked used, so a late copy of the code
    # is told from a guess.
    (used,) = items(dynamodb, settings, "SECRET#")
    assert "used_at" in used
    claim = items(dynamodb, settings, "EMAIL#")[0]
    account = items(dynamodb, settings, "USER#")[0]
    assert claim["email_verified"] == account["email_verified"] == {"BOOL": True}
    assert log_in(client).json_body["user"]["email_verified"] is True


def test_codes_forgive_case_spaces_and_look_alikes(client, mailbox):
    token = sign_up(client, verified=False)
    code = mailbox.code(ANN)
    typed = " ".join([code[:4], code[4:]]).lower().replace("0", "o").replace("1", "l")
    response = call(client, "POST", "/auth/email/verify", {"code": typed}, token=token)
    assert response.status_code == 200, response.body


def test_a_code_is_single_use(client, mailbox, store, clock, services):
    from chalicelib.errors import InvalidCode

    token = sign_up(client, verified=False)
    user_id = user_of(client, token)["id"]
    (stored,) = store.table.read(store.secrets.read("verify_email", user_id))
    consume = store.secrets.consume(
        "verify_email", user_id, stored.digest, clock.now(), InvalidCode
    )
    store.table.commit(consume)
    with pytest.raises(InvalidCode):
        store.table.commit(consume)  # what a second, concurrent use of the code runs into


def test_wrong_codes_are_400_and_the_sixth_within_30_minutes_is_429(client, mailbox, clock):
    token = sign_up(client, verified=False)
    for _ in range(5):
        response = call(client, "POST", "/auth/email/verify", {"code": "ZZZZZZZZ"}, token=token)
        assert_error(response, 400, "invalid_code")
    right = {"code": mailbox.code(ANN)}
    locked = call(client, "POST", "/auth/email/verify", right, token=token)
    assert_error(locked, 429, "too_many_attempts")
    assert 0 < int(locked.headers["Retry-After"]) <= 30 * 60
    clock.advance(minutes=31)  # the code expired meanwhile: a fresh one comes
    expired = call(client, "POST", "/auth/email/verify", right, token=token)
    assert_error(expired, 400, "code_expired")
    fresh = {"code": mailbox.code(ANN)}
    assert fresh != right
    response = call(client, "POST", "/auth/email/verify", fresh, token=token)
    assert response.status_code == 200, response.body


def test_an_expired_code_says_so_and_sends_a_fresh_one(client, mailbox, clock):
    token = sign_up(client, verified=False)
    old = mailbox.code(ANN)
    clock.advance(minutes=15)
    response = call(client, "POST", "/auth/email/verify", {"code": old}, token=token)
    assert_error(response, 400, "code_expired")
    assert len(mailbox.messages()) == 2
    new = mailbox.code(ANN)
    assert new != old
    assert call(client, "POST", "/auth/email/verify", {"code": new}, token=token).status_code == 200


def test_resend_replaces_the_code_and_three_sends_per_ten_minutes(client, mailbox, clock):
    token = sign_up(client, verified=False)  # the first send
    first = mailbox.code(ANN)
    for _ in range(2):
        response = call(client, "POST", "/auth/email/verify/resend", token=token)
        assert response.status_code == 202
        assert response.json_body == {"status": "accepted"}
    assert len(mailbox.messages()) == 3
    limited = call(client, "POST", "/auth/email/verify/resend", token=token)
    assert_error(limited, 429, "too_many_attempts")
    assert len(mailbox.messages()) == 3
    old = call(client, "POST", "/auth/email/verify", {"code": first}, token=token)
    assert_error(old, 400, "invalid_code")  # replaced by the newer one
    clock.advance(minutes=10)
    assert call(client, "POST", "/auth/email/verify/resend", token=token).status_code == 202


def test_a_verified_address_needs_no_more_codes(client, mailbox):
    token = sign_up(client, verified=False)
    token = session_token(
        call(client, "POST", "/auth/email/verify", {"code": mailbox.code(ANN)}, token=token)
    )
    again = call(client, "POST", "/auth/email/verify/resend", token=token)
    assert_error(again, 409, "already_verified")
    twice = call(client, "POST", "/auth/email/verify", {"code": "whatever"}, token=token)
    assert twice.status_code == 200
    assert set_cookies(twice.headers) == []  # nothing changed: no rotation


def test_verification_routes_need_a_session(client):
    for path in ("/auth/email/verify", "/auth/email/verify/resend"):
        assert_error(call(client, "POST", path, {"code": "x"}), 401, "unauthenticated")


def test_sign_up_succeeds_when_the_mail_cannot_be_sent(client, audit, dynamodb, settings):
    failing = mock.patch("chalicelib.mail.SesSender.deliver", side_effect=ServiceUnavailable())
    with failing:
        token = sign_up(client, verified=False)
        resend = call(client, "POST", "/auth/email/verify/resend", token=token)
    assert_error(resend, 503, "service_unavailable")
    assert user_of(client, token)["email_verified"] is False
    assert "mail_failed" in audit.events
    assert items(dynamodb, settings, "SECRET#verify_email#")  # the user can ask again


@pytest.fixture
def strict(services):
    """The stage setting REQUIRE_VERIFIED_EMAIL=true."""
    strict_settings = replace(services.settings, require_verified_email=True)
    runtime.use(replace(services, settings=strict_settings))
    yield
    runtime.use(services)


def test_with_verification_required_resources_wait_for_it(client, mailbox, strict):
    token = sign_up(client, verified=False)
    assert_error(call(client, "GET", "/trainings", token=token), 403, "email_unverified")
    page = client.http.get("/training", headers={"Cookie": f"auth_session={token}"})
    assert (page.status_code, page.headers["Location"]) == (303, "/verify-email")
    # Managing the account still works: the address may be the thing to fix.
    assert call(client, "GET", "/auth/sessions", token=token).status_code == 200
    verified = call(client, "POST", "/auth/email/verify", {"code": mailbox.code(ANN)}, token=token)
    token = session_token(verified)
    assert call(client, "GET", "/trainings", token=token).status_code == 200


def test_without_the_setting_an_unverified_user_is_served(client):
    token = sign_up(client, verified=False)
    assert call(client, "GET", "/trainings", token=token).status_code == 200


# -- password reset ---------------------------------------------------------------------------


def request_reset(client, email=ANN, ip=None):
    headers = {"X-Forwarded-For": ip} if ip else None
    return call(client, "POST", "/auth/password-reset", {"email": email}, headers=headers)


def reset_token(mailbox, email=ANN):
    link = mailbox.link(email)
    assert link.startswith(f"{ORIGIN}/reset-password?token=")
    return link.split("token=", 1)[1]


def test_a_reset_request_mails_a_link_for_an_account_only(
    client, mailbox, dynamodb, settings, pauses
):
    sign_up(client)
    known = request_reset(client)
    unknown = request_reset(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.body == unknown.body
    mail = mailbox.last(ANN)
    assert_a_plain_notice(mail, ANN, "Reset your password")
    token = reset_token(mailbox)
    assert len(token.split(".", 1)[1]) == 43  # 256 bits
    assert [m.to for m in mailbox.messages()] == [ANN, ANN]  # the code, then the link
    assert token.split(".", 1)[1] not in json.dumps(table_items(dynamodb, settings.table_name))
    (secret,) = items(dynamodb, settings, "SECRET#reset_password#")
    assert int(secret["valid_until"]["N"]) == 1_800_000_000 + 30 * 60
    # Both answers were held to the same minimum time, account or not.
    assert len(pauses) == 2
    assert all(0 < pause <= RESET_RESPONSE_SECONDS for pause in pauses)


def test_reset_requests_are_limited_per_email_and_per_ip(client, mailbox):
    for _ in range(3):
        assert request_reset(client, "nobody@example.com").status_code == 202
    assert_error(request_reset(client, "nobody@example.com"), 429, "too_many_attempts")
    for i in range(16):
        assert request_reset(client, f"user{i}@example.com").status_code == 202
    # 3 + 1 + 16 = 20 from this address: the next one is refused whatever the email.
    assert_error(request_reset(client, "fresh@example.com"), 429, "too_many_attempts")


def test_a_malformed_email_is_400(client):
    assert_error(request_reset(client, "not an address"), 400, "invalid_email")


def test_a_reset_ends_every_session_and_signs_this_client_in(client, mailbox, dynamodb, settings):
    token = sign_up(client)
    other = session_token(log_in(client))
    request_reset(client)
    reset = reset_token(mailbox)
    body = {"token": reset, "new_password": NEW_PASSWORD}
    response = call(client, "POST", "/auth/password-reset/confirm", body)
    assert response.status_code == 200, response.body
    user = response.json_body["user"]
    assert user["email_verified"] is True  # they proved they read the inbox
    fresh = session_token(response)
    assert user_of(client, fresh)["email_verified"] is True
    for old in (token, other):
        assert call(client, "GET", "/auth/session", token=old).status_code == 401
    assert [i["pk"]["S"] for i in items(dynamodb, settings, "SESSION#")] == [
        f"SESSION#{token_digest(fresh)}"
    ]
    assert_a_plain_notice(mailbox.last(ANN), ANN, "Your password was changed")
    assert log_in(client).status_code == 401
    assert log_in(client, password=NEW_PASSWORD).status_code == 200
    again = call(client, "POST", "/auth/password-reset/confirm", body)
    assert_error(again, 400, "invalid_reset_token")  # single use


def test_a_weak_password_does_not_use_up_the_link(client, mailbox):
    sign_up(client)
    request_reset(client)
    token = reset_token(mailbox)
    weak = {"token": token, "new_password": "password1"}
    assert_error(call(client, "POST", "/auth/password-reset/confirm", weak), 400, "weak_password")
    good = {"token": token, "new_password": NEW_PASSWORD}
    assert call(client, "POST", "/auth/password-reset/confirm", good).status_code == 200


@pytest.mark.parametrize(
    "token",
    ["", "nonsense", "0" * 36 + "." + "A" * 43, "a.b", "x" * 5000, "../../etc/passwd"],
)
def test_bad_tokens_are_400_invalid_token(client, token):
    body = {"token": token, "new_password": NEW_PASSWORD}
    assert_error(
        call(client, "POST", "/auth/password-reset/confirm", body), 400, "invalid_reset_token"
    )


def test_expired_and_replaced_links_are_refused(client, mailbox, clock):
    sign_up(client)
    request_reset(client)
    first = reset_token(mailbox)
    clock.advance(minutes=5)
    request_reset(client)
    second = reset_token(mailbox)
    replaced = {"token": first, "new_password": NEW_PASSWORD}
    assert_error(
        call(client, "POST", "/auth/password-reset/confirm", replaced), 400, "invalid_reset_token"
    )
    clock.advance(minutes=30)
    expired = {"token": second, "new_password": NEW_PASSWORD}
    assert_error(
        call(client, "POST", "/auth/password-reset/confirm", expired), 400, "invalid_reset_token"
    )


def test_a_reset_lifts_a_login_lockout(client, mailbox):
    sign_up(client)
    for _ in range(5):
        log_in(client, password="wrong password")
    assert_error(log_in(client), 429, "too_many_attempts")
    request_reset(client)
    body = {"token": reset_token(mailbox), "new_password": NEW_PASSWORD}
    assert call(client, "POST", "/auth/password-reset/confirm", body).status_code == 200
    assert log_in(client, password=NEW_PASSWORD).status_code == 200


def test_a_password_change_kills_an_outstanding_reset_link(client, mailbox):
    token = sign_up(client)
    request_reset(client)
    link = reset_token(mailbox)
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    changed = call(client, "POST", "/auth/password", change, token=token)
    assert changed.status_code == 200
    assert_a_plain_notice(mailbox.last(ANN), ANN, "Your password was changed")
    body = {"token": link, "new_password": "yet another passphrase"}
    assert_error(
        call(client, "POST", "/auth/password-reset/confirm", body), 400, "invalid_reset_token"
    )


# -- email change -----------------------------------------------------------------------------

BOB = "bob@example.com"


def request_change(client, token, new_email=BOB, password=PASSWORD):
    body = {"new_email": new_email, "password": password}
    return call(client, "POST", "/auth/email", body, token=token)


def test_changing_the_email_sends_a_code_there_and_a_notice_here(
    client, mailbox, dynamodb, settings
):
    token = sign_up(client)
    response = request_change(client, token, " Bob@Example.com ")
    assert response.status_code == 202, response.body
    code_mail, notice = mailbox.messages()[-2:]
    assert_a_plain_notice(code_mail, BOB, "Confirm your new email address")
    assert_a_plain_notice(notice, ANN, "Someone asked to change your email address")
    assert BOB in notice.text
    assert user_of(client, token)["email"] == ANN  # nothing changes yet
    (secret,) = items(dynamodb, settings, "SECRET#change_email#")
    assert secret["new_email"] == {"S": BOB}


def test_the_code_moves_the_account_to_the_new_address(client, mailbox, dynamodb, settings):
    token = sign_up(client)
    other = session_token(log_in(client))
    request_change(client, token)
    response = call(client, "POST", "/auth/email/confirm", {"code": mailbox.code(BOB)}, token=token)
    assert response.status_code == 200, response.body
    assert response.json_body["user"]["email"] == BOB
    assert response.json_body["user"]["email_verified"] is True
    fresh = session_token(response)
    assert user_of(client, fresh)["email"] == BOB
    assert call(client, "GET", "/auth/session", token=other).status_code == 401
    changed = mailbox.last(ANN)
    assert_a_plain_notice(changed, ANN, "Your email address was changed")
    assert BOB in changed.text
    assert [i["pk"]["S"] for i in items(dynamodb, settings, "EMAIL#")] == [f"EMAIL#{BOB}"]
    assert log_in(client).status_code == 401
    assert log_in(client, BOB).status_code == 200


def test_a_taken_or_unchanged_address_is_409_and_a_wrong_password_401(client, mailbox):
    token = sign_up(client)
    sign_up(client, BOB)
    assert_error(request_change(client, token, "BOB@example.com"), 409, "email_taken")
    assert_error(request_change(client, token, ANN), 409, "email_taken")
    assert_error(
        request_change(client, token, "carol@example.com", "nope nope"), 401, "invalid_credentials"
    )
    assert_error(request_change(client, token, "not an address"), 400, "invalid_email")


def test_a_sign_up_that_claims_the_address_first_wins(client, mailbox, dynamodb, settings):
    token = sign_up(client)
    request_change(client, token)
    code = mailbox.code(BOB)
    sign_up(client, BOB)  # someone else registers the address before Ann confirms
    response = call(client, "POST", "/auth/email/confirm", {"code": code}, token=token)
    assert_error(response, 409, "email_taken")
    assert user_of(client, token)["email"] == ANN  # nothing half-written
    assert log_in(client).status_code == 200


def test_email_change_codes_share_the_wrong_code_limit(client, mailbox):
    token = sign_up(client)
    request_change(client, token)
    for _ in range(5):
        wrong = call(client, "POST", "/auth/email/confirm", {"code": "ZZZZZZZZ"}, token=token)
        assert_error(wrong, 400, "invalid_code")
    right = {"code": mailbox.code(BOB)}
    assert_error(
        call(client, "POST", "/auth/email/confirm", right, token=token), 429, "too_many_attempts"
    )


def test_no_code_token_or_link_reaches_the_audit_log(client, mailbox, audit):
    token = sign_up(client, verified=False)
    code = mailbox.code(ANN)
    call(client, "POST", "/auth/email/verify", {"code": "WRONG000"}, token=token)
    token = session_token(call(client, "POST", "/auth/email/verify", {"code": code}, token=token))
    request_reset(client)
    link = mailbox.link(ANN)
    call(
        client,
        "POST",
        "/auth/password-reset/confirm",
        {"token": link.split("=", 1)[1], "new_password": NEW_PASSWORD},
    )
    signed_in = session_token(log_in(client, password=NEW_PASSWORD))
    changed = request_change(client, signed_in, password=NEW_PASSWORD)
    assert changed.status_code == 202, changed.body
    events = set(audit.events)
    assert {
        "email_verification_sent",
        "code_failure",
        "email_verified",
        "password_reset_requested",
        "password_reset",
        "code_sent",
    } <= events
    text = json.dumps(audit.lines)
    for secret in (code, link, link.split("=", 1)[1], mailbox.code(BOB), "WRONG000"):
        assert secret not in text


def test_links_in_mail_keep_api_gateways_stage_prefix(client, mailbox):
    """Behind the execute-api URL the pages live under the stage (`/api`): so do the links."""
    from app import app
    from bench.events import api_event

    sign_up(client)
    event = api_event("POST", "/auth/password-reset", body={"email": ANN})  # path /api/...
    assert app(event, None)["statusCode"] == 202
    assert mailbox.link(ANN).startswith(f"{ORIGIN}/api/reset-password?token=")
    assert f"{ORIGIN}/api/" in mailbox.last(ANN).html


def test_a_reset_request_is_202_even_when_the_mail_fails(client, audit):
    """A 503 only for addresses with an account would tell who has one while mail is down."""
    sign_up(client)
    with mock.patch("chalicelib.mail.SesSender.deliver", side_effect=ServiceUnavailable()):
        known = request_reset(client)
        unknown = request_reset(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.body == unknown.body
    assert audit.events.count("mail_failed") == 1


@pytest.mark.parametrize("verified", [True, False])
def test_a_reset_whose_account_went_away_is_an_invalid_token(client, mailbox, services, verified):
    store = services.store
    user_id = user_of(client, sign_up(client, verified=verified))["id"]
    request_reset(client)
    link = reset_token(mailbox)
    real_read = store.table.read

    def read_then_delete(*reads):
        records = real_read(*reads)
        store.table.read = real_read
        store.table.commit(*store.accounts.delete(user_id, ANN))  # deleted meanwhile
        return records

    store.table.read = read_then_delete
    body = {"token": link, "new_password": NEW_PASSWORD}
    assert_error(
        call(client, "POST", "/auth/password-reset/confirm", body), 400, "invalid_reset_token"
    )
