"""Device cookies (OWASP's answer to lockouts used against an owner): a browser that gave an
account's right password is known to it, and an attacker's failures elsewhere lock out
neither that browser nor the account's other ways in. Through the routes on moto."""

from __future__ import annotations

import hashlib
import json

from tests.conftest import table_items
from tests.helpers import (
    ANN,
    PASSWORD,
    assert_error,
    call,
    cookie_named,
    log_in,
    set_cookies,
    sign_up,
)
from tests.softkey import SoftKey

DAY = 86_400


def attempt(client, device=None, password=PASSWORD, email=ANN):
    headers = {} if device is None else {"Cookie": f"device={device}"}
    return log_in(client, email, password, headers)


def claim(dynamodb, settings, email=ANN):
    (item,) = [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"] == f"EMAIL#{email}"
    ]
    return item


def test_a_right_password_makes_the_browser_known_by_a_digest(client, dynamodb, settings, clock):
    sign_up(client)
    response = attempt(client)
    device, attributes = cookie_named(response, "device")
    assert len(device) == 43
    assert attributes["max-age"] == str(180 * DAY)
    assert "httponly" in attributes
    assert (attributes["samesite"], attributes["path"]) == ("Lax", "/")
    known = claim(dynamodb, settings)["devices"]["M"]
    digest = hashlib.sha256(device.encode()).hexdigest()
    assert known == {digest: {"N": str(clock.now() + 180 * DAY)}}
    assert device not in str(table_items(dynamodb, settings.table_name))  # the digest only
    # Known now: the next right password from it writes nothing more, and sets no device.
    again = attempt(client, device)
    assert again.status_code == 200
    assert [c for c in set_cookies(again.headers) if c.startswith("device=")] == []
    # A wrong one from it says nothing new either.
    assert_error(attempt(client, device, "wrong password"), 401, "invalid_credentials")


def test_an_attackers_failures_lock_neither_the_owners_browser_nor_her_other_ways_in(
    client, mailbox
):
    token = sign_up(client)
    known, _ = cookie_named(attempt(client), "device")
    key = SoftKey()  # Ann's passkey, for the other way in below
    options = call(client, "POST", "/auth/passkeys/register/options", {"password": PASSWORD}, token)
    body = {"credential": key.create(options.json_body), "name": "Laptop"}
    assert call(client, "POST", "/auth/passkeys/register", body, token).status_code == 201
    # Someone guesses Ann's password from anywhere else: the account locks for them.
    for _ in range(5):
        assert_error(attempt(client, password="a guess at it"), 401, "invalid_credentials")
    assert_error(attempt(client), 429, "too_many_attempts")  # even with the right password
    # Ann's own browser signs in at once.
    mine = attempt(client, known)
    assert mine.status_code == 200, mine.body
    # And her other ways in keep working: a code by email, her passkey.
    assert call(client, "POST", "/auth/login/code", {"email": ANN}).status_code == 202
    code = {"email": ANN, "code": mailbox.code(ANN)}
    assert call(client, "POST", "/auth/login/code/verify", code).status_code == 200
    options = call(client, "POST", "/auth/passkeys/login/options")
    attempt_cookie, _ = cookie_named(options, "passkey_attempt")
    signed_in = client.http.post(
        "/auth/passkeys/login",
        headers={"Content-Type": "application/json", "Cookie": f"passkey_attempt={attempt_cookie}"},
        body=json.dumps({"credential": key.get(options.json_body)}),
    )
    assert signed_in.status_code == 200, signed_in.body


def test_a_known_browser_still_counts_its_own_failures(client):
    sign_up(client)
    known, _ = cookie_named(attempt(client), "device")
    for _ in range(5):
        assert_error(attempt(client, known, "a guess"), 401, "invalid_credentials")
    assert_error(attempt(client, known), 429, "too_many_attempts")  # this browser is locked
    assert attempt(client).status_code == 200  # but they did not lock the account for others


def test_a_device_cookie_of_another_account_is_a_stranger_here(client):
    sign_up(client)
    sign_up(client, "bob@example.com")
    bobs, _ = cookie_named(attempt(client, email="bob@example.com"), "device")
    for _ in range(5):
        attempt(client, password="a guess at it")
    assert_error(attempt(client, bobs), 429, "too_many_attempts")


def test_a_token_client_gets_no_device_cookie(client):
    sign_up(client)
    headers = {"X-Session-Transport": "token"}
    response = log_in(client, headers=headers)
    assert response.status_code == 200
    assert set_cookies(response.headers) == []
    assert len(response.json_body["session_token"]) == 43
