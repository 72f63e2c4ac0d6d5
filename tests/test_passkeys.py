"""Passkeys through the routes on moto, with a software authenticator (a real ES256 key):
registration, sign-in without a password, the second factor, management, and every way an
answer can be wrong."""

import json

import pytest

from tests.conftest import table_items
from tests.helpers import ANN, PASSWORD, assert_error, cookie_named, set_cookies, sign_up
from tests.softkey import SoftKey, b64url

JSON = {"Content-Type": "application/json"}


def request(client, method, path, body=None, token=None, attempt=None):
    headers = dict(JSON)
    cookies = []
    if token:
        cookies.append(f"auth_session={token}")
    if attempt:
        cookies.append(f"passkey_attempt={attempt}")
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    raw = json.dumps(body) if body is not None else ""
    return client.http.request(method, path, headers=headers, body=raw.encode())


def register(client, token, key, name="Laptop", password=PASSWORD):
    options = request(
        client, "POST", "/auth/passkeys/register/options", {"password": password}, token
    )
    assert options.status_code == 200, options.body
    answer = key.create(options.json_body)
    response = request(
        client, "POST", "/auth/passkeys/register", {"credential": answer, "name": name}, token
    )
    return options.json_body, response


def enrolled(client):
    key = SoftKey()
    token = sign_up(client)
    _, response = register(client, token, key)
    assert response.status_code == 201, response.body
    return key, session_token(response)


def attempt_of(response):
    return cookie_named(response, "passkey_attempt")[0]


def session_token(response):
    token, _ = cookie_named(response, "auth_session")
    assert len(token) == 43
    return token


def passkey_login(client, key, **answer_options):
    options = request(client, "POST", "/auth/passkeys/login/options")
    assert options.status_code == 200, options.body
    answer = key.get(options.json_body, **answer_options)
    return request(
        client, "POST", "/auth/passkeys/login", {"credential": answer}, attempt=attempt_of(options)
    )


def items(dynamodb, settings, prefix):
    return [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith(prefix)
    ]


# -- registration ------------------------------------------------------------------------------


def test_creation_options_ask_for_a_discoverable_verified_credential(client):
    token = sign_up(client)
    options, response = register(client, token, SoftKey())
    assert response.status_code == 201
    assert options["rp"] == {"name": "Training", "id": "localhost"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-8, -7, -257]
    assert options["user"]["name"] == ANN
    user_id = request(client, "GET", "/auth/session", token=session_token(response)).json_body[
        "user"
    ]["id"]
    assert options["user"]["id"] != b64url(user_id.encode())  # a random handle, not the id
    assert len(options["challenge"]) >= 22  # at least 16 bytes
    token = session_token(response)
    first_id = request(client, "GET", "/auth/passkeys", token=token).json_body["passkeys"][0]["id"]
    second, _ = register(client, token, SoftKey())
    assert [c["id"] for c in second["excludeCredentials"]] == [first_id]


def test_a_first_passkey_stores_the_credential_and_turns_two_factor_on(
    client, dynamodb, settings, mailbox
):
    key = SoftKey()
    token = sign_up(client)
    other = session_token(
        request(client, "POST", "/auth/login", {"email": ANN, "password": PASSWORD})
    )
    _, response = register(client, token, key, name="Ann's laptop")
    assert response.status_code == 201
    passkey = response.json_body["passkey"]
    assert passkey["id"] == key.id
    assert passkey["name"] == "Ann's laptop"
    assert (passkey["backed_up"], passkey["device_type"]) == (True, "multi_device")
    assert set(passkey) == {"id", "name", "created_at", "last_used_at", "backed_up", "device_type"}
    (item,) = items(dynamodb, settings, "PASSKEY#")
    assert item["sign_count"] == {"N": "0"}
    assert item["transports"] == {"L": [{"S": "internal"}, {"S": "hybrid"}]}
    assert item["aaguid"] == {"S": "00000000-0000-0000-0000-000000000000"}
    (user,) = items(dynamodb, settings, "USER#")
    assert user["passkeys"] == {"SS": [key.id]}
    assert user["two_factor"] == {"BOOL": True}
    assert items(dynamodb, settings, "EMAIL#")[0]["two_factor"] == {"BOOL": True}
    assert request(client, "GET", "/auth/session", token=other).status_code == 401  # rotated
    assert mailbox.last(ANN).subject == "A passkey was added to your account"
    login = request(client, "POST", "/auth/login", {"email": ANN, "password": PASSWORD})
    assert login.json_body["two_factor_required"] is True


def test_registering_needs_the_password_or_a_recent_passkey(client, clock):
    key, token = enrolled(client)
    # The password that registered the first passkey re-authenticated the session (which
    # carries over to the rotated one) for 5 minutes.
    assert request(client, "POST", "/auth/passkeys/register/options", {}, token).status_code == 200
    clock.advance(minutes=6)
    bare = request(client, "POST", "/auth/passkeys/register/options", {}, token)
    assert_error(bare, 401, "reauthentication_required")
    wrong = request(
        client, "POST", "/auth/passkeys/register/options", {"password": "nope nope"}, token
    )
    assert_error(wrong, 401, "invalid_credentials")
    signed_in = session_token(passkey_login(client, key))
    assert (
        request(client, "POST", "/auth/passkeys/register/options", {}, signed_in).status_code == 200
    )
    clock.advance(minutes=6)
    stale = request(client, "POST", "/auth/passkeys/register/options", {}, signed_in)
    assert_error(stale, 401, "reauthentication_required")


def test_a_challenge_registers_once(client):
    token = sign_up(client)
    key = SoftKey()
    options = request(
        client, "POST", "/auth/passkeys/register/options", {"password": PASSWORD}, token
    ).json_body
    answer = key.create(options)
    first = request(
        client, "POST", "/auth/passkeys/register", {"credential": answer, "name": "A"}, token
    )
    assert first.status_code == 201
    token = session_token(first)
    again = request(
        client,
        "POST",
        "/auth/passkeys/register",
        {"credential": SoftKey().create(options), "name": "B"},
        token,
    )
    assert_error(again, 400, "invalid_credential")


@pytest.mark.parametrize(
    ("case", "answer_options"),
    [
        ("another origin", {"origin": "https://evil.example"}),
        ("another RP ID", {"rp_id": "evil.example"}),
        ("no user verification", {"user_verified": False}),
    ],
)
def test_registration_answers_that_do_not_verify_are_400(
    client, dynamodb, settings, case, answer_options
):
    token = sign_up(client)
    options = request(
        client, "POST", "/auth/passkeys/register/options", {"password": PASSWORD}, token
    ).json_body
    answer = SoftKey().create(options, **answer_options)
    response = request(
        client, "POST", "/auth/passkeys/register", {"credential": answer, "name": "X"}, token
    )
    assert_error(response, 400, "invalid_credential")
    assert items(dynamodb, settings, "PASSKEY#") == []


def test_ten_passkeys_at_most(client):
    token = sign_up(client)
    for i in range(10):
        _, response = register(client, token, SoftKey(), name=f"Key {i}")
        assert response.status_code == 201, response.body
        token = session_token(response) if set_cookies(response.headers) else token
    refused = request(
        client, "POST", "/auth/passkeys/register/options", {"password": PASSWORD}, token
    )
    assert_error(refused, 409, "too_many_passkeys")


# -- signing in --------------------------------------------------------------------------------


def test_a_passkey_signs_in_without_a_password_as_two_factors(client, dynamodb, settings, audit):
    key, _ = enrolled(client)
    response = passkey_login(client, key)
    assert response.status_code == 200, response.body
    assert response.json_body["user"]["email"] == ANN
    token = session_token(response)
    session = request(client, "GET", "/auth/session", token=token).json_body
    assert session["session"]["two_factor_verified"] is True
    assert request(client, "GET", "/trainings", token=token).status_code == 200
    (item,) = items(dynamodb, settings, "PASSKEY#")
    assert item["sign_count"] == {"N": "1"}
    assert {"event": "login_success", "method": "passkey"}.items() <= audit.lines[-1].items()


def test_a_login_challenge_answers_once_and_only_for_the_browser_that_asked(client):
    key, _ = enrolled(client)
    options = request(client, "POST", "/auth/passkeys/login/options")
    attempt = attempt_of(options)
    answer = key.get(options.json_body)
    first = request(client, "POST", "/auth/passkeys/login", {"credential": answer}, attempt=attempt)
    assert first.status_code == 200
    replay = request(
        client,
        "POST",
        "/auth/passkeys/login",
        {"credential": key.get(options.json_body)},
        attempt=attempt,
    )
    assert_error(replay, 401, "invalid_credentials")
    other = request(client, "POST", "/auth/passkeys/login/options")
    stolen = key.get(other.json_body)
    elsewhere = request(
        client, "POST", "/auth/passkeys/login", {"credential": stolen}, attempt=attempt
    )
    assert_error(elsewhere, 401, "invalid_credentials")  # another browser's challenge
    no_cookie = request(client, "POST", "/auth/passkeys/login", {"credential": stolen})
    assert_error(no_cookie, 401, "invalid_credentials")


def test_a_sign_count_that_does_not_grow_is_refused_as_a_clone(client, audit):
    key, _ = enrolled(client)
    assert passkey_login(client, key).status_code == 200
    clone = passkey_login(client, key, count=False)  # the same count again
    assert_error(clone, 401, "invalid_credentials")
    assert "passkey_clone_suspected" in audit.events


@pytest.mark.parametrize(
    "answer_options",
    [{"user_verified": False}, {"origin": "http://localhost:9999"}, {"rp_id": "example.com"}],
)
def test_sign_in_answers_that_do_not_verify_are_401(client, answer_options):
    key, _ = enrolled(client)
    assert_error(passkey_login(client, key, **answer_options), 401, "invalid_credentials")


def test_an_assertion_naming_another_user_is_refused(client, audit):
    """WebAuthn Level 3, 7.2: when an assertion carries a user handle, it must be the
    credential's owner's. The key is Ann's; the handle it names is someone else's."""
    key, _ = enrolled(client)
    key.user_handle = b"someone else's handle, 32 bytes"
    assert_error(passkey_login(client, key), 401, "invalid_credentials")
    failure = next(line for line in audit.lines if line["event"] == "passkey_failure")
    assert failure["detail"] == "another user's handle"
    key.user_handle = b""  # an assertion may name no handle at all
    assert passkey_login(client, key).status_code == 200


def test_a_passkey_its_user_no_longer_lists_signs_nobody_in(client, services):
    """An item left behind (a race with a first proof of the address, say) proves nothing."""
    key, token = enrolled(client)
    user_id = request(client, "GET", "/auth/session", token=token).json_body["user"]["id"]
    table = services.store.table
    table.client.update_item(
        TableName=table.name,
        Key={"pk": {"S": f"USER#{user_id}"}},
        UpdateExpression="DELETE passkeys :id",
        ExpressionAttributeValues={":id": {"SS": [key.id]}},
    )
    assert_error(passkey_login(client, key), 401, "invalid_credentials")


def test_an_unknown_passkey_is_401(client):
    enrolled(client)
    assert_error(passkey_login(client, SoftKey()), 401, "invalid_credentials")


# -- the second factor -------------------------------------------------------------------------


def second_factor(client, token, key):
    options = request(client, "POST", "/auth/2fa/passkey/options", token=token)
    assert options.status_code == 200, options.body
    answer = key.get(options.json_body)
    return options.json_body, request(
        client, "POST", "/auth/2fa/passkey", {"credential": answer}, token
    )


def test_a_password_login_is_completed_by_the_users_own_passkey(client):
    key, _ = enrolled(client)
    pending = session_token(
        request(client, "POST", "/auth/login", {"email": ANN, "password": PASSWORD})
    )
    assert_error(request(client, "GET", "/trainings", token=pending), 403, "two_factor_required")
    options, response = second_factor(client, pending, key)
    assert [c["id"] for c in options["allowCredentials"]] == [key.id]
    assert options["userVerification"] == "required"
    assert response.status_code == 200, response.body
    assert request(client, "GET", "/trainings", token=session_token(response)).status_code == 200


def test_another_users_passkey_is_no_second_factor(client):
    _ann_key, _ = enrolled(client)
    bob_key = SoftKey()
    bob = sign_up(client, "bob@example.com")
    register(client, bob, bob_key)
    pending = session_token(
        request(client, "POST", "/auth/login", {"email": ANN, "password": PASSWORD})
    )
    _, response = second_factor(client, pending, bob_key)
    assert_error(response, 400, "invalid_credential")


# -- managing ----------------------------------------------------------------------------------


def test_listing_renaming_and_deleting_the_last_passkey(client, mailbox, dynamodb, settings, clock):
    key, token = enrolled(client)
    clock.advance(minutes=6)  # past the re-authentication that registering gave
    listed = request(client, "GET", "/auth/passkeys", token=token).json_body["passkeys"]
    assert [p["name"] for p in listed] == ["Laptop"]
    unproven = request(client, "PATCH", f"/auth/passkeys/{key.id}", {"name": "Work"}, token)
    assert_error(unproven, 401, "reauthentication_required")
    renamed = request(
        client, "PATCH", f"/auth/passkeys/{key.id}", {"name": "Work", "password": PASSWORD}, token
    )
    assert renamed.status_code == 204
    assert mailbox.last(ANN).subject == "A passkey was renamed"
    missing = request(
        client, "DELETE", "/auth/passkeys/AAAAAAAAAAAAAAAAAAAAAA", {"password": PASSWORD}, token
    )
    assert_error(missing, 404, "not_found")
    deleted = request(client, "DELETE", f"/auth/passkeys/{key.id}", {"password": PASSWORD}, token)
    assert deleted.status_code == 204
    assert mailbox.last(ANN).subject == "A passkey was removed from your account"
    assert items(dynamodb, settings, "PASSKEY#") == []
    (user,) = items(dynamodb, settings, "USER#")
    assert user["two_factor"] == {"BOOL": False}
    token = session_token(deleted)  # two-factor off: the session was rotated
    assert (
        request(client, "GET", "/auth/session", token=token).json_body["user"]["two_factor_enabled"]
        is False
    )
    assert_error(passkey_login(client, key), 401, "invalid_credentials")


@pytest.mark.parametrize(
    "name",
    [
        "Laptop\u202egnp.exe",  # RIGHT-TO-LEFT OVERRIDE: the notice would read backwards
        "\u2066Phone\u2069",  # isolates, Unicode category Cf like every bidi control
        "Work\u200bkey",  # ZERO WIDTH SPACE, Cf as well: two names that look alike
        "Tab\there",  # a control character (Cc)
        "Line\u2028break",  # a line separator
        "",
        "x" * 65,
    ],
)
def test_names_that_would_spoof_the_notice_or_the_list_are_refused(client, name, mailbox):
    key, token = enrolled(client)
    body = {"name": name, "password": PASSWORD}
    response = request(client, "PATCH", f"/auth/passkeys/{key.id}", body, token)
    assert_error(response, 400, "invalid_request")
    assert mailbox.last(ANN).subject == "A passkey was added to your account"  # no notice
    fine = request(
        client, "PATCH", f"/auth/passkeys/{key.id}", {"name": "Ann\u2019s iPad \U0001f34e"}, token
    )
    assert fine.status_code == 204, fine.body


def test_another_users_passkey_cannot_be_touched(client):
    key, _ = enrolled(client)
    bob = sign_up(client, "bob@example.com")
    response = request(client, "DELETE", f"/auth/passkeys/{key.id}", {"password": PASSWORD}, bob)
    assert_error(response, 404, "not_found")


# -- answers that do not verify (malformed shapes: tests/test_hostile_input.py) ----------------


def test_truncated_cbor_and_a_wrong_challenge_are_refused(client):
    token = sign_up(client)
    options = request(
        client, "POST", "/auth/passkeys/register/options", {"password": PASSWORD}, token
    ).json_body
    answer = SoftKey().create(options)
    answer["response"]["attestationObject"] = answer["response"]["attestationObject"][:40]
    truncated = request(
        client, "POST", "/auth/passkeys/register", {"credential": answer, "name": "x"}, token
    )
    assert_error(truncated, 400, "invalid_credential")
    forged = SoftKey().create({**options, "challenge": b64url(b"0" * 32)})
    wrong = request(
        client, "POST", "/auth/passkeys/register", {"credential": forged, "name": "x"}, token
    )
    assert_error(wrong, 400, "invalid_credential")


# -- a password reset of a passkey-only account -------------------------------------------------


def test_a_passkey_gives_a_reset_its_second_factor(client, mailbox):
    key, _ = enrolled(client)
    request(client, "POST", "/auth/password-reset", {"email": ANN})
    token = mailbox.link(ANN).split("token=", 1)[1]
    body = {"token": token, "new_password": "a brand new passphrase"}
    assert_error(
        request(client, "POST", "/auth/password-reset/confirm", body), 400, "second_factor_missing"
    )
    stranger = SoftKey()
    bob = sign_up(client, "bob@example.com")
    register(client, bob, stranger)
    options = request(client, "POST", "/auth/passkeys/login/options")
    foreign = {**body, "credential": stranger.get(options.json_body)}
    refused = request(
        client, "POST", "/auth/password-reset/confirm", foreign, attempt=attempt_of(options)
    )
    assert_error(refused, 400, "invalid_credential")  # Bob's passkey proves nothing about Ann
    options = request(client, "POST", "/auth/passkeys/login/options")
    own = {**body, "credential": key.get(options.json_body)}
    reset = request(
        client, "POST", "/auth/password-reset/confirm", own, attempt=attempt_of(options)
    )
    assert reset.status_code == 200, reset.body
    session = request(client, "GET", "/auth/session", token=session_token(reset)).json_body
    assert session["session"]["two_factor_verified"] is True
    login = request(
        client, "POST", "/auth/login", {"email": ANN, "password": "a brand new passphrase"}
    )
    assert login.json_body["two_factor_required"] is True
