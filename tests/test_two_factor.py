"""Two-factor sign-in through the routes on moto, with an injected clock for the 30-second
steps: set-up, the second step of a sign-in, replay and lockout, recovery codes, a password
reset that cannot skip it, turning it off, and the secret encrypted at rest."""

import json
import re
import stat
from pathlib import Path

import boto3
import pyotp
import pytest

from chalicelib.keyring import Keyring, KeyringError, KeySource
from tests.conftest import table_items
from tests.helpers import ANN, PASSWORD, assert_error, call, log_in, session_token, sign_up


def user_item(dynamodb, settings):
    (item,) = [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith("USER#")
    ]
    return item


class Enrolled:
    def __init__(self, token, secret, recovery_codes):
        self.token = token
        self.secret = secret
        self.recovery_codes = recovery_codes

    def code(self, clock, offset=0):
        return pyotp.TOTP(self.secret).at(clock.now() + offset)


def enrol(client, clock, token=None) -> Enrolled:
    token = token or sign_up(client)
    setup = call(client, "POST", "/auth/2fa/totp/setup", {"password": PASSWORD}, token=token)
    assert setup.status_code == 200, setup.body
    secret = setup.json_body["secret"]
    code = pyotp.TOTP(secret).at(clock.now())
    enabled = call(client, "POST", "/auth/2fa/totp/enable", {"code": code}, token=token)
    assert enabled.status_code == 200, enabled.body
    clock.advance(seconds=30)  # the enabling step is used up
    return Enrolled(session_token(enabled), secret, enabled.json_body["recovery_codes"])


def second_step(client, code):
    pending = session_token(log_in(client))
    return pending, call(client, "POST", "/auth/2fa/verify", {"code": code}, token=pending)


# -- enrolment ---------------------------------------------------------------------------------


def test_setup_gives_a_160_bit_secret_its_uri_and_a_qr_code(client, dynamodb, settings):
    token = sign_up(client)
    response = call(client, "POST", "/auth/2fa/totp/setup", {"password": PASSWORD}, token=token)
    assert response.status_code == 200
    body = response.json_body
    assert set(body) == {"secret", "uri", "qr_svg"}
    assert re.fullmatch(r"[A-Z2-7]{32}", body["secret"])  # base32: 32 x 5 = 160 bits
    assert body["uri"] == (
        f"otpauth://totp/Training:ann%40example.com?secret={body['secret']}"
        "&issuer=Training&digits=6&period=30"
    )
    assert body["qr_svg"].startswith("<svg")
    assert "<script" not in body["qr_svg"]
    item = user_item(dynamodb, settings)
    assert item["totp_pending"]["S"].startswith("v1.k1.")  # encrypted, naming its key
    assert "totp_secret" not in item  # pending until a code comes back
    assert body["secret"] not in json.dumps(table_items(dynamodb, settings.table_name))
    assert call(client, "GET", "/auth/2fa", token=token).json_body == {
        "totp": False,
        "recovery_codes_left": 0,
    }


def test_setup_needs_the_password_and_counts_a_wrong_one(client):
    token = sign_up(client)
    wrong = call(client, "POST", "/auth/2fa/totp/setup", {"password": "nope nope"}, token=token)
    assert_error(wrong, 401, "invalid_credentials")
    for _ in range(4):
        call(client, "POST", "/auth/2fa/totp/setup", {"password": "nope nope"}, token=token)
    throttled = call(client, "POST", "/auth/2fa/totp/setup", {"password": PASSWORD}, token=token)
    assert_error(throttled, 429, "too_many_attempts")


def test_enabling_turns_it_on_with_recovery_codes_and_rotates_sessions(
    client, clock, dynamodb, settings, mailbox
):
    token = sign_up(client)
    other = session_token(log_in(client))
    enrolled = enrol(client, clock, token)
    assert len(enrolled.recovery_codes) == 10
    assert len(set(enrolled.recovery_codes)) == 10
    for code in enrolled.recovery_codes:
        assert re.fullmatch(
            r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", code
        )
    dump = json.dumps(table_items(dynamodb, settings.table_name))
    assert not any(
        code.replace("-", "") in dump.replace("-", "") for code in enrolled.recovery_codes
    )
    assert enrolled.secret not in dump
    item = user_item(dynamodb, settings)
    assert item["two_factor"] == {"BOOL": True}
    assert len(item["recovery_codes"]["SS"]) == 10
    claim = next(
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith("EMAIL#")
    )
    assert claim["two_factor"] == {"BOOL": True}
    session = call(client, "GET", "/auth/session", token=enrolled.token).json_body
    assert session["user"]["two_factor_enabled"] is True
    assert session["session"]["two_factor_verified"] is True
    for old in (token, other):
        assert call(client, "GET", "/auth/session", token=old).status_code == 401
    assert mailbox.last(ANN).subject == "Two-factor sign-in is on"
    assert call(client, "GET", "/auth/2fa", token=enrolled.token).json_body == {
        "totp": True,
        "recovery_codes_left": 10,
    }
    again = call(
        client, "POST", "/auth/2fa/totp/setup", {"password": PASSWORD}, token=enrolled.token
    )
    assert_error(again, 409, "two_factor_already_enabled")


def test_a_wrong_or_late_first_code_enables_nothing(client, clock, dynamodb, settings):
    token = sign_up(client)
    secret = call(
        client, "POST", "/auth/2fa/totp/setup", {"password": PASSWORD}, token=token
    ).json_body["secret"]
    wrong = call(client, "POST", "/auth/2fa/totp/enable", {"code": "000000"}, token=token)
    assert_error(wrong, 400, "invalid_code")
    clock.advance(minutes=11)  # the pending secret lived 10 minutes
    late = call(
        client,
        "POST",
        "/auth/2fa/totp/enable",
        {"code": pyotp.TOTP(secret).at(clock.now())},
        token=token,
    )
    assert_error(late, 400, "invalid_code")
    assert "totp_secret" not in user_item(dynamodb, settings)


# -- signing in with two factors ---------------------------------------------------------------


def test_a_password_alone_gives_a_session_that_owes_the_second_factor(client, clock):
    enrol(client, clock)
    login = log_in(client)
    assert login.status_code == 200
    assert login.json_body["two_factor_required"] is True
    pending = session_token(login)
    session = call(client, "GET", "/auth/session", token=pending).json_body
    assert session["session"]["two_factor_verified"] is False
    assert session["user"]["two_factor_enabled"] is True
    assert_error(call(client, "GET", "/trainings", token=pending), 403, "two_factor_required")
    for method, path, body in [
        ("GET", "/auth/sessions", None),
        ("POST", "/auth/password", {"current_password": PASSWORD, "new_password": "x" * 12}),
        ("POST", "/auth/email", {"new_email": "bob@example.com", "password": PASSWORD}),
        ("DELETE", "/auth/2fa", {"password": PASSWORD, "code": "123456"}),
        ("POST", "/auth/2fa/recovery-codes", {"password": PASSWORD, "code": "123456"}),
    ]:
        assert_error(call(client, method, path, body, token=pending), 403, "two_factor_required")
    page = client.http.get("/training", headers={"Cookie": f"auth_session={pending}"})
    assert (page.status_code, page.headers["Location"]) == (303, "/2fa")


def test_without_two_factor_login_says_so(client):
    sign_up(client)
    assert log_in(client).json_body["two_factor_required"] is False


def test_a_code_verifies_the_session_and_is_accepted_once(client, clock):
    enrolled = enrol(client, clock)
    code = enrolled.code(clock)
    pending, verified = second_step(client, code)
    assert verified.status_code == 200, verified.body
    token = session_token(verified)
    assert token != pending
    assert call(client, "GET", "/auth/session", token=pending).status_code == 401
    assert call(client, "GET", "/trainings", token=token).status_code == 200
    assert call(client, "GET", "/auth/session", token=token).json_body["session"][
        "two_factor_verified"
    ]
    _, replay = second_step(client, code)  # the same code, within its step, in another login
    assert_error(replay, 400, "invalid_code")
    clock.advance(seconds=30)
    _, next_step = second_step(client, enrolled.code(clock))
    assert next_step.status_code == 200


def test_the_previous_and_next_steps_are_accepted_for_clock_drift(client, clock):
    enrolled = enrol(client, clock)
    clock.advance(seconds=60)  # well past the step that enabled it
    _, behind = second_step(client, enrolled.code(clock, -30))
    assert behind.status_code == 200
    _, ahead = second_step(client, enrolled.code(clock, 30))
    assert ahead.status_code == 200
    _, too_far = second_step(client, enrolled.code(clock, 60))
    assert_error(too_far, 400, "invalid_code")


def test_a_recovery_code_works_once_and_in_any_case(client, clock, dynamodb, settings):
    enrolled = enrol(client, clock)
    code = enrolled.recovery_codes[0]
    _, first = second_step(client, code.lower().replace("-", " "))
    assert first.status_code == 200, first.body
    _, again = second_step(client, code)
    assert_error(again, 400, "invalid_code")
    token = session_token(first)
    assert call(client, "GET", "/auth/2fa", token=token).json_body["recovery_codes_left"] == 9
    assert len(user_item(dynamodb, settings)["recovery_codes"]["SS"]) == 9


def test_five_wrong_codes_lock_the_second_step_for_15_minutes(client, clock):
    enrolled = enrol(client, clock)
    pending = session_token(log_in(client))
    for _ in range(5):
        wrong = call(client, "POST", "/auth/2fa/verify", {"code": "000000"}, token=pending)
        assert_error(wrong, 400, "invalid_code")
    locked = call(client, "POST", "/auth/2fa/verify", {"code": enrolled.code(clock)}, token=pending)
    assert_error(locked, 429, "too_many_attempts")
    assert int(locked.headers["Retry-After"]) == 15 * 60
    clock.advance(minutes=10)
    still = call(client, "POST", "/auth/2fa/verify", {"code": enrolled.code(clock)}, token=pending)
    assert_error(still, 429, "too_many_attempts")
    assert int(still.headers["Retry-After"]) == 5 * 60  # refused attempts do not extend it
    clock.advance(minutes=5)
    ok = call(client, "POST", "/auth/2fa/verify", {"code": enrolled.code(clock)}, token=pending)
    assert ok.status_code == 200
    token = session_token(ok)
    # A success clears the count: the next sign-in starts from zero.
    for _ in range(4):
        assert (
            call(
                client,
                "POST",
                "/auth/2fa/verify",
                {"code": "000000"},
                token=session_token(log_in(client)),
            ).status_code
            == 400
        )
    assert call(client, "GET", "/trainings", token=token).status_code == 200


# -- recovery codes and turning it off ---------------------------------------------------------


def test_a_fresh_set_of_recovery_codes_kills_the_old_set(client, clock, mailbox):
    enrolled = enrol(client, clock)
    body = {"password": PASSWORD, "code": enrolled.code(clock)}
    fresh = call(client, "POST", "/auth/2fa/recovery-codes", body, token=enrolled.token)
    assert fresh.status_code == 200, fresh.body
    codes = fresh.json_body["recovery_codes"]
    assert len(codes) == 10
    assert set(codes).isdisjoint(enrolled.recovery_codes)
    assert mailbox.last(ANN).subject == "New recovery codes were made"
    _, old = second_step(client, enrolled.recovery_codes[1])
    assert_error(old, 400, "invalid_code")
    _, new = second_step(client, codes[0])
    assert new.status_code == 200
    replay = call(client, "POST", "/auth/2fa/recovery-codes", body, token=enrolled.token)
    assert_error(replay, 400, "invalid_code")  # that TOTP step is spent


def test_turning_it_off_needs_password_and_code(client, clock, mailbox, dynamodb, settings):
    enrolled = enrol(client, clock)
    other = session_token(second_step(client, enrolled.recovery_codes[0])[1])
    no_password = call(
        client,
        "DELETE",
        "/auth/2fa",
        {"password": "nope nope", "code": enrolled.code(clock)},
        token=enrolled.token,
    )
    assert_error(no_password, 401, "invalid_credentials")
    wrong_code = call(
        client,
        "DELETE",
        "/auth/2fa",
        {"password": PASSWORD, "code": "000000"},
        token=enrolled.token,
    )
    assert_error(wrong_code, 400, "invalid_code")
    off = call(
        client,
        "DELETE",
        "/auth/2fa",
        {"password": PASSWORD, "code": enrolled.code(clock)},
        token=enrolled.token,
    )
    assert off.status_code == 204, off.body
    token = session_token(off)
    assert call(client, "GET", "/auth/session", token=other).status_code == 401
    assert (
        call(client, "GET", "/auth/session", token=token).json_body["user"]["two_factor_enabled"]
        is False
    )
    assert mailbox.last(ANN).subject == "Two-factor sign-in was turned off"
    item = user_item(dynamodb, settings)
    assert item["two_factor"] == {"BOOL": False}
    assert not {"totp_secret", "recovery_codes", "totp_last_step"} & set(item)
    assert log_in(client).json_body["two_factor_required"] is False
    assert_error(
        call(client, "DELETE", "/auth/2fa", {"password": PASSWORD, "code": "123456"}, token=token),
        409,
        "two_factor_not_enabled",
    )


# -- a password reset cannot skip it -----------------------------------------------------------


def reset_link(client, mailbox):
    call(client, "POST", "/auth/password-reset", {"email": ANN})
    return mailbox.link(ANN).split("token=", 1)[1]


def test_a_reset_of_a_two_factor_account_needs_its_second_factor(client, clock, mailbox):
    enrolled = enrol(client, clock)
    token = reset_link(client, mailbox)
    body = {"token": token, "new_password": "a brand new passphrase"}
    missing = call(client, "POST", "/auth/password-reset/confirm", body)
    assert_error(missing, 400, "second_factor_missing")
    wrong = call(client, "POST", "/auth/password-reset/confirm", {**body, "code": "000000"})
    assert_error(wrong, 400, "invalid_code")
    right = call(
        client, "POST", "/auth/password-reset/confirm", {**body, "code": enrolled.code(clock)}
    )
    assert right.status_code == 200, right.body  # the link was kept through both refusals
    session = call(client, "GET", "/auth/session", token=session_token(right)).json_body
    assert session["session"]["two_factor_verified"] is True
    assert call(client, "GET", "/trainings", token=session_token(right)).status_code == 200


def test_wrong_codes_in_resets_count_towards_the_lock(client, clock, mailbox):
    enrol(client, clock)
    token = reset_link(client, mailbox)
    body = {"token": token, "new_password": "a brand new passphrase", "code": "000000"}
    for _ in range(5):
        call(client, "POST", "/auth/password-reset/confirm", body)
    assert_error(
        call(client, "POST", "/auth/password-reset/confirm", body), 429, "too_many_attempts"
    )


# -- the secret at rest ------------------------------------------------------------------------


def test_the_secret_is_sealed_with_aes_gcm_under_a_key_outside_the_table(
    client, clock, dynamodb, settings
):
    enrolled = enrol(client, clock)
    sealed = user_item(dynamodb, settings)["totp_secret"]["S"]
    keyfile = Path(settings.totp_keys_file)
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    keyring = Keyring.from_json(keyfile.read_text())
    user_id = user_item(dynamodb, settings)["pk"]["S"].removeprefix("USER#")
    assert keyring.decrypt(sealed, f"totp:{user_id}") == enrolled.secret
    with pytest.raises(KeyringError, match="does not open"):  # bound to its user alone
        keyring.decrypt(sealed, "totp:someone-else")


def test_keys_rotate_without_losing_old_secrets():
    first = json.loads(Keyring.new_json("k1"))
    sealed = Keyring.from_json(json.dumps(first)).encrypt("SECRET", "totp:u1")
    # Rotation: a new key becomes current; the old one stays to open what it sealed.
    second = json.loads(Keyring.new_json("k2"))
    rotated = Keyring.from_json(
        json.dumps({"current": "k2", "keys": {**first["keys"], **second["keys"]}})
    )
    assert rotated.decrypt(sealed, "totp:u1") == "SECRET"
    assert rotated.encrypt("NEW", "totp:u1").startswith("v1.k2.")


def test_deployed_stages_read_the_keyring_once_from_ssm(dynamodb, settings):
    from dataclasses import replace

    boto3.client("ssm").put_parameter(
        Name="/session-auth/totp-keys", Value=Keyring.new_json(), Type="SecureString"
    )
    source = KeySource(
        replace(settings, totp_keys_file=None, totp_keys_parameter="/session-auth/totp-keys")
    )
    first = source.keyring
    assert source.keyring is first  # once per container
    assert first.current == "k1"


def test_the_keyring_tool_makes_and_rotates_keyrings():
    from devtools.totp_keys import rotate

    first = Keyring.new_json()
    sealed = Keyring.from_json(first).encrypt("SECRET", "totp:u1")
    rotated = Keyring.from_json(rotate(first))
    assert rotated.current == "k2"
    assert rotated.decrypt(sealed, "totp:u1") == "SECRET"
