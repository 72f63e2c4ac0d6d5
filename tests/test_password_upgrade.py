"""A right password under outdated Argon2 parameters is re-hashed with today's, on every path
that checks one (Django's `check_password(password, encoded, setter)`): the check carries
its own upgrade, so no flow can drop it, not even one that refuses after the check."""

from __future__ import annotations

import pytest

from chalicelib.runtime import Services
from tests.conftest import table_items
from tests.helpers import ANN, PASSWORD, call, log_in, sign_up

OLD, NEW = "t=1", "t=2"  # the test stage's time cost, then the one it moves to

PATHS = {
    "login": lambda client, token: log_in(client),
    "re-authentication": lambda client, token: call(
        client, "POST", "/auth/reauthenticate", {"password": PASSWORD}, token
    ),
    "two-factor set-up": lambda client, token: call(
        client, "POST", "/auth/2fa/totp/setup", {"password": PASSWORD}, token
    ),
    "passkey options": lambda client, token: call(
        client, "POST", "/auth/passkeys/register/options", {"password": PASSWORD}, token
    ),
    "disconnecting a sign-in (then 404: no such identity)": lambda client, token: call(
        client, "DELETE", "/auth/identities/nothing-here", {"password": PASSWORD}, token
    ),
    "email change": lambda client, token: call(
        client, "POST", "/auth/email", {"new_email": "new@example.com", "password": PASSWORD}, token
    ),
}


def stored_hash(dynamodb, settings) -> str:
    (claim,) = [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"] == f"EMAIL#{ANN}"
    ]
    return claim["password_hash"]["S"]


@pytest.mark.parametrize("path", PATHS)
def test_every_password_check_upgrades_an_outdated_hash(
    client, stage, services: Services, dynamodb, settings, path
):
    token = sign_up(client)
    assert f",{OLD}," in stored_hash(dynamodb, settings)
    stage(argon2_time_cost=2)  # a deploy raises the cost
    response = PATHS[path](client, token)
    assert response.status_code < 500, response.body
    upgraded = stored_hash(dynamodb, settings)
    assert f",{NEW}," in upgraded, path
    # The same password still signs in, under the new hash.
    assert log_in(client).status_code == 200
