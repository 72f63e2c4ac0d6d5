"""What a right password allowed must not outlive it, and what it owes must not be lost: the
interleavings of parallel requests, each forced at the point where the other request strikes
(on moto; a concurrency test over HTTP can only hope to hit them).

- A password checked, then the account's address first proven by its owner (flows.mailbox):
  neither the squatter's login nor their password change lands.
- A change made from a session that ended meanwhile (signed out elsewhere) fails.
- Two requests with one right password under outdated parameters (a double click): both sign
  in, whichever upgraded the hash first.
- A flow that fails after the check: the check's upgrade and the clearing of earlier failures
  are written all the same, and a device cookie handed out is one the account knows.
"""

from __future__ import annotations

import hashlib

import pytest

from chalicelib.errors import EmailTaken
from tests.conftest import table_items
from tests.helpers import (
    ANN,
    NEW_PASSWORD,
    PASSWORD,
    assert_error,
    call,
    cookie_named,
    log_in,
    sign_up,
)

TOKEN_TRANSPORT = {"X-Session-Transport": "token"}


def items(dynamodb, settings, prefix):
    return [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith(prefix)
    ]


def user_id_of(client, token):
    return call(client, "GET", "/auth/session", token=token).json_body["user"]["id"]


def after_the_check(services, then):
    """Run `then` once, right after the first read of the account's email claim (a password
    check's read): what a parallel request commits between this request's read and write."""
    table = services.store.table
    real_read = table.read

    def read_then(*reads):
        records = real_read(*reads)
        if any(read.pk == f"EMAIL#{ANN}" for read in reads):
            table.read = real_read
            then()
        return records

    table.read = read_then


def owners_first_proof(services, user_id):
    """What the owner's code sign-in or reset commits (flows.mailbox): the account verified,
    the squatter's password and every session gone."""
    store = services.store
    (account,) = store.table.read(store.accounts.user(user_id))
    store.table.commit(*store.accounts.first_proof(account, None))
    services.sessions.invalidate_user_sessions(user_id)


@pytest.mark.parametrize("headers", [{}, TOKEN_TRANSPORT], ids=["cookie", "token"])
def test_a_squatters_login_checked_just_before_the_owners_first_proof_gets_no_session(
    client, services, dynamodb, settings, headers
):
    squatter = sign_up(client, verified=False)
    user_id = user_id_of(client, squatter)
    after_the_check(services, lambda: owners_first_proof(services, user_id))
    raced = log_in(client, headers=headers)
    assert_error(raced, 401, "invalid_credentials")
    assert items(dynamodb, settings, "SESSION#") == []
    (claim,) = items(dynamodb, settings, "EMAIL#")
    assert "devices" not in claim  # no browser of the squatter's is known either
    assert_error(log_in(client), 401, "invalid_credentials")


def test_a_squatters_password_change_in_flight_during_the_owners_first_proof_fails(
    client, services, dynamodb, settings
):
    squatter = sign_up(client, verified=False)
    user_id = user_id_of(client, squatter)
    after_the_check(services, lambda: owners_first_proof(services, user_id))
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    raced = call(client, "POST", "/auth/password", body, squatter)
    assert_error(raced, 401, "invalid_credentials")  # the password it gave is gone
    (claim,) = items(dynamodb, settings, "EMAIL#")
    assert "password_hash" not in claim
    assert items(dynamodb, settings, "SESSION#") == []
    assert_error(log_in(client, password=NEW_PASSWORD), 401, "invalid_credentials")


def test_a_change_from_a_session_signed_out_meanwhile_fails(client, services, dynamodb, settings):
    token = sign_up(client)
    other = session_of(log_in(client))

    def sign_out_elsewhere():
        assert call(client, "POST", "/auth/logout", token=token).status_code in (200, 204)

    after_the_check(services, sign_out_elsewhere)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert_error(call(client, "POST", "/auth/password", body, token), 401, "unauthenticated")
    assert log_in(client).status_code == 200  # the password stayed
    assert call(client, "GET", "/auth/session", token=other).status_code == 200


def session_of(response):
    assert response.status_code == 200, response.body
    value, _ = cookie_named(response, "auth_session")
    return value


def test_a_double_clicked_login_under_new_parameters_signs_in_twice(
    client, stage, dynamodb, settings
):
    sign_up(client)
    services = stage(argon2_time_cost=2)
    store = services.store

    def the_other_click_upgrades_first():
        (credentials,) = store.table.read(services.users.credentials(ANN))
        upgraded = services.users.new_password_hash(PASSWORD)
        store.table.commit(store.accounts.after_password(credentials, new_hash=upgraded))

    after_the_check(services, the_other_click_upgrades_first)
    first = log_in(client)
    assert first.status_code == 200, first.body
    (claim,) = items(dynamodb, settings, "EMAIL#")
    assert ",t=2," in claim["password_hash"]["S"]
    assert log_in(client).status_code == 200


def test_a_flow_refused_after_the_check_still_writes_what_the_password_owes(
    client, services, dynamodb, settings
):
    """An email change whose write loses a race (its address taken meanwhile: 409) after a
    right password from a new browser, with a failure counted before: the failures are
    cleared, and the device cookie handed out is one the account knows."""
    sign_up(client)
    assert_error(log_in(client, password="wrong password"), 401, "invalid_credentials")
    assert items(dynamodb, settings, f"THROTTLE#email#{ANN}")
    token = session_of(log_in(client))
    table = services.store.table
    real_commit = table.commit

    def lose_the_race(*writes):
        if any(w.pk.startswith("SECRET#") for w in writes):
            table.commit = real_commit
            raise EmailTaken()
        return real_commit(*writes)

    assert_error(log_in(client, password="wrong password"), 401, "invalid_credentials")
    table.commit = lose_the_race
    body = {"new_email": "new@example.com", "password": PASSWORD}
    refused = call(client, "POST", "/auth/email", body, token)
    assert_error(refused, 409, "email_taken")
    assert items(dynamodb, settings, f"THROTTLE#email#{ANN}") == []
    device, _ = cookie_named(refused, "device")  # this request's browser sent none
    (claim,) = items(dynamodb, settings, "EMAIL#")
    assert hashlib.sha256(device.encode()).hexdigest() in claim["devices"]["M"]
