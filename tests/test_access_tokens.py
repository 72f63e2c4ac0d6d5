"""Access tokens (POST /auth/token), the published keys and discovery document, and the keyring
that signs them: through Chalice's test client on moto, with the fake clock.

The fake clock stands in 2027, so PyJWT's own time checks (which read the machine's clock) are
off here and the times are compared with the fake clock instead; the HTTP tests on DynamoDB
Local verify tokens exactly as an outside service would."""

from __future__ import annotations

import io
import json
import stat
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import boto3
import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bench.events import http_api_event
from chalicelib import runtime
from chalicelib.access_tokens import (
    AccessTokens,
    TokenKeyring,
    new_keyring_json,
    rotate_keyring_json,
    session_handle,
)
from chalicelib.clock import SystemClock
from chalicelib.config import ConfigError, Settings
from chalicelib.sessions import token_digest
from devtools import token_keys
from tests import helpers
from tests.conftest import ORIGIN, START, table_items
from tests.helpers import ANN, PASSWORD, call, session_token

CLAIMS = {
    "iss", "sub", "aud", "client_id", "iat", "nbf", "exp", "jti", "sid", "auth_time", "amr",
    "email", "email_verified", "scope", "roles", "permissions",
}  # fmt: skip


def sign_up(client, email=ANN):
    """An account whose address is not verified yet (its token says so)."""
    return helpers.sign_up(client, email, verified=False)


def ask_token(client, token=None, body=None, headers=None):
    return call(client, "POST", "/auth/token", body, token=token, headers=headers)


def issued(client, token, body=None):
    response = ask_token(client, token, body)
    assert response.status_code == 200, response.body
    return response.json_body["access_token"]


def published_keys(client):
    response = call(client, "GET", "/.well-known/jwks.json")
    assert response.status_code == 200
    return response.json_body


def verify(client, access_token, audience="api"):
    """Verified as a service would, by the published key its `kid` names (times: see above)."""
    keys = jwt.PyJWKSet.from_dict(published_keys(client))
    kid = jwt.get_unverified_header(access_token)["kid"]
    (key,) = [k for k in keys.keys if k.key_id == kid]
    return jwt.decode(
        access_token,
        key.key,
        algorithms=["RS256"],
        audience=audience,
        issuer=ORIGIN,
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )


def user_id(dynamodb, settings):
    (item,) = [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith("USER#")
    ]
    return item["pk"]["S"].removeprefix("USER#")


def new_container(dynamodb, settings, clock, **changes):
    """Another Lambda container: the keyring read again, maybe under other settings."""
    built = runtime.build(replace(settings, **changes), client=dynamodb, clock=clock)
    runtime.use(built)
    return built


# -- the token -------------------------------------------------------------------------------


def test_a_session_gets_a_signed_token_with_every_claim_and_nothing_secret(
    client, clock, dynamodb, settings, audit, calls
):
    token = sign_up(client)
    signed_in_at = clock.now()
    clock.advance(minutes=3)
    calls.clear()
    response = ask_token(client, token)
    assert response.status_code == 200, response.body
    assert set(response.json_body) == {"access_token", "token_type", "expires_in"}
    assert response.json_body["token_type"] == "Bearer"
    assert response.json_body["expires_in"] == 300
    assert response.headers["Cache-Control"] == "no-store"
    assert calls.operations == ["GetItem"]  # the session's validation, and nothing written
    access_token = response.json_body["access_token"]
    header = jwt.get_unverified_header(access_token)
    assert header["alg"] == "RS256"
    assert header["typ"] == "at+jwt"
    assert header["kid"] in [key["kid"] for key in published_keys(client)["keys"]]
    claims = verify(client, access_token)
    assert set(claims) == CLAIMS
    now = clock.now()
    (session,) = runtime.get().sessions.list_sessions(user_id(dynamodb, settings))
    assert claims["iss"] == ORIGIN
    assert claims["sub"] == user_id(dynamodb, settings)
    assert claims["aud"] == claims["client_id"] == "api"
    assert claims["iat"] == claims["nbf"] == now
    assert claims["exp"] == now + 300
    assert len(claims["jti"]) == 22
    assert claims["sid"] == session_handle(session.id)
    assert claims["auth_time"] == signed_in_at
    assert claims["amr"] == ["pwd"]
    assert claims["email"] == ANN
    assert claims["email_verified"] is False
    assert claims["scope"] == "api"
    # Nothing that signs in, or finds a session, is in it.
    text = json.dumps(claims)
    for secret in (token, token_digest(token), session.id):
        assert secret not in text
    assert claims["sid"] != session.id
    (line,) = [line for line in audit.lines if line["event"] == "access_token_issued"]
    assert line["jti"] == claims["jti"]
    assert line["audience"] == "api"
    assert line["user_id"] == claims["sub"]
    assert access_token not in json.dumps(audit.lines)


def test_each_token_has_its_own_jti_and_the_session_its_one_sid(client):
    token = sign_up(client)
    first, second = (verify(client, issued(client, token)) for _ in range(2))
    assert first["jti"] != second["jti"]
    assert first["sid"] == second["sid"]


def test_exp_follows_the_configured_lifetime(client, dynamodb, settings, clock):
    new_container(dynamodb, settings, clock, access_token_lifetime=timedelta(minutes=10))
    token = sign_up(client)
    response = ask_token(client, token)
    assert response.json_body["expires_in"] == 600  # 10 minutes
    claims = verify(client, response.json_body["access_token"])
    assert claims["exp"] - claims["iat"] == 600


@pytest.mark.parametrize("lifetime", ["0s", "61m", "2h"])
def test_a_lifetime_over_an_hour_or_of_nothing_is_a_config_error(lifetime):
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_LIFETIME"):
        Settings.from_env({"ACCESS_TOKEN_LIFETIME": lifetime})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ACCESS_TOKEN_AUDIENCES": ""}, "ACCESS_TOKEN_AUDIENCES"),
        ({"ACCESS_TOKEN_AUDIENCES": "a" * 257}, "ACCESS_TOKEN_AUDIENCES"),
        ({"ACCESS_TOKEN_SCOPES": 'read"all'}, "ACCESS_TOKEN_SCOPES"),
        ({"ACCESS_TOKEN_KEY_ACTIVATION": "25h"}, "ACCESS_TOKEN_KEY_ACTIVATION"),
    ],
)
def test_malformed_token_settings_name_their_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


def test_audiences_and_scopes_are_lists():
    settings = Settings.from_env(
        {"ACCESS_TOKEN_AUDIENCES": "api, https://orders.example", "ACCESS_TOKEN_SCOPES": "api a:b"}
    )
    assert settings.access_token_audiences == ("api", "https://orders.example")
    assert settings.access_token_scopes == ("api", "a:b")


def test_an_audience_is_chosen_among_the_listed_and_no_other(client, dynamodb, settings, clock):
    new_container(
        dynamodb,
        settings,
        clock,
        access_token_audiences=("api", "https://orders.example"),
        access_token_scopes=("api", "orders:read"),
    )
    token = sign_up(client)
    claims = verify(
        client,
        issued(client, token, {"audience": "https://orders.example"}),
        audience="https://orders.example",
    )
    assert claims["aud"] == claims["client_id"] == "https://orders.example"
    assert claims["scope"] == "api orders:read"
    assert verify(client, issued(client, token))["aud"] == "api"  # the first, by default
    for body in ({"audience": "https://evil.example"}, {"audience": ""}, {"audience": 7}):
        refused = ask_token(client, token, body)
        assert refused.status_code == 400, body
        assert refused.json_body["error"]["code"] == "invalid_request"


def test_no_session_no_token(client, audit):
    response = ask_token(client)
    assert response.status_code == 401
    assert response.json_body["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "access_token_issued" not in audit.events


def test_after_logout_no_new_token(client):
    token = sign_up(client)
    issued(client, token)
    assert call(client, "POST", "/auth/logout", token=token).status_code == 204
    response = ask_token(client, token)
    assert response.status_code == 401
    assert response.json_body["error"]["code"] == "unauthenticated"


def test_a_bearer_session_gets_a_token_as_a_cookie_one_does(client):
    signed_up = call(
        client,
        "POST",
        "/auth/signup",
        {"email": ANN, "password": PASSWORD},
        headers={"X-Session-Transport": "token"},
    )
    bearer = signed_up.json_body["session_token"]
    response = ask_token(client, headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code == 200, response.body
    assert "Set-Cookie" not in response.headers
    assert verify(client, response.json_body["access_token"])["amr"] == ["pwd"]


def test_a_session_owing_its_second_factor_gets_403_until_it_gives_it(client, clock):
    token = helpers.sign_up(client)
    setup = call(client, "POST", "/auth/2fa/totp/setup", {"password": PASSWORD}, token=token)
    secret = setup.json_body["secret"]
    enable = {"code": pyotp.TOTP(secret).at(clock.now())}
    assert call(client, "POST", "/auth/2fa/totp/enable", enable, token=token).status_code == 200
    clock.advance(seconds=30)
    login = call(client, "POST", "/auth/login", {"email": ANN, "password": PASSWORD})
    pending = session_token(login)
    refused = ask_token(client, pending)
    assert refused.status_code == 403
    assert refused.json_body["error"]["code"] == "two_factor_required"
    verified = call(
        client, "POST", "/auth/2fa/verify", {"code": pyotp.TOTP(secret).at(clock.now())}, pending
    )
    assert verified.status_code == 200, verified.body
    claims = verify(client, issued(client, session_token(verified)))
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["auth_time"] == clock.now()


def test_a_stage_that_requires_a_verified_email_refuses_until_it_is(
    client, dynamodb, settings, clock
):
    new_container(dynamodb, settings, clock, require_verified_email=True)
    refused = ask_token(client, sign_up(client))
    assert refused.status_code == 403
    assert refused.json_body["error"]["code"] == "email_unverified"


def test_an_emailed_code_and_a_passkey_say_so_in_amr(client, mailbox):
    from tests import test_passkeys

    by_code = helpers.sign_up_with_code(client, "new@example.com")
    claims = verify(client, issued(client, by_code))
    assert claims["amr"] == ["mail"]
    assert claims["email_verified"] is True

    key, _ = test_passkeys.enrolled(client)
    signed_in = test_passkeys.passkey_login(client, key)
    assert signed_in.status_code == 200, signed_in.body
    claims = verify(client, issued(client, test_passkeys.session_token(signed_in)))
    assert claims["amr"] == ["hwk", "user", "mfa"]


def test_a_change_to_the_account_keeps_how_and_when_the_user_signed_in(client, clock):
    token = sign_up(client)
    signed_in_at = clock.now()
    clock.advance(minutes=2)
    changed = call(
        client,
        "POST",
        "/auth/password",
        {"current_password": PASSWORD, "new_password": "another horse battery"},
        token=token,
    )
    assert changed.status_code == 200, changed.body
    claims = verify(client, issued(client, session_token(changed)))
    assert claims["amr"] == ["pwd"]
    assert claims["auth_time"] == signed_in_at


def test_a_session_stored_before_amr_was_kept_gets_a_token_without_it(
    client, clock, dynamodb, settings
):
    token = sign_up(client)
    key = {"pk": {"S": f"SESSION#{token_digest(token)}"}}
    dynamodb.update_item(
        TableName=settings.table_name, Key=key, UpdateExpression="REMOVE amr, auth_time"
    )
    claims = verify(client, issued(client, token))
    assert "amr" not in claims
    created = dynamodb.get_item(TableName=settings.table_name, Key=key)["Item"]["created_at"]
    assert claims["auth_time"] == int(created["N"])


# -- what is published -----------------------------------------------------------------------


def test_the_jwks_publishes_public_keys_only_and_may_be_cached(client):
    response = call(client, "GET", "/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Content-Type"] == "application/json"
    (key,) = response.json_body["keys"]
    assert set(key) == {"kty", "kid", "use", "alg", "n", "e"}  # no d, p, q: nothing private
    assert (key["kty"], key["use"], key["alg"], key["e"]) == ("RSA", "sig", "RS256", "AQAB")
    public = jwt.PyJWK.from_dict(key).key
    assert public.key_size == 2048


def test_discovery_names_the_issuer_and_where_its_keys_are(client):
    response = call(client, "GET", "/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    document = response.json_body
    assert document["issuer"] == ORIGIN
    assert document["jwks_uri"] == f"{ORIGIN}/.well-known/jwks.json"
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document["scopes_supported"] == ["api"]
    assert "authorization_endpoint" not in document  # not (yet) an OpenID Provider


def test_a_tampered_token_fails_verification(client):
    access_token = issued(client, sign_up(client))
    header, payload, signature = access_token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["sub"] = "someone-else"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    with pytest.raises(jwt.InvalidSignatureError):
        verify(client, f"{header}.{forged}.{signature}")


# -- the keyring -----------------------------------------------------------------------------


def test_the_local_keyring_is_made_on_first_use_readable_by_its_owner_only(client, settings):
    keyfile = Path(settings.access_token_keys_file)
    assert not keyfile.exists()
    issued(client, sign_up(client))
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    (key,) = json.loads(keyfile.read_text())["keys"]
    assert key["added_at"] == "2027-01-15T08:00:00Z"  # START, by the injected clock
    assert key["private_key"].startswith("-----BEGIN PRIVATE KEY-----")


def test_a_rotation_publishes_first_and_signs_after_the_activation_delay(
    client, clock, dynamodb, settings
):
    token = sign_up(client)
    old_token = issued(client, token)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    keyfile = Path(settings.access_token_keys_file)
    clock.advance(days=10)
    keyfile.write_text(rotate_keyring_json(keyfile.read_text(), clock.now()))
    new_container(dynamodb, settings, clock)
    kids = [key["kid"] for key in published_keys(client)["keys"]]
    assert len(kids) == 2
    assert old_kid in kids
    (new_kid,) = set(kids) - {old_kid}
    # Published, but not signing until verifiers that cache the JWKS have had time to see it.
    clock.advance(hours=1, minutes=59)
    assert jwt.get_unverified_header(issued(client, token))["kid"] == old_kid
    clock.advance(minutes=1)
    new_token = issued(client, token)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    # Tokens of the previous key still verify: their key is still published.
    assert verify(client, old_token)["sub"] == verify(client, new_token)["sub"]


def test_a_rotation_drops_keys_whose_tokens_can_no_longer_live():
    first = new_keyring_json(START)
    second = rotate_keyring_json(first, START + 3600)
    assert len(json.loads(second)["keys"]) == 2
    # The second key was added 25 hours (the longest activation and lifetime) before.
    just_before = rotate_keyring_json(second, START + 3600 + 25 * 3600 - 1)
    assert len(json.loads(just_before)["keys"]) == 3
    after = json.loads(rotate_keyring_json(second, START + 3600 + 25 * 3600))
    kept = [key["kid"] for key in after["keys"]]
    assert kept[0] == json.loads(second)["keys"][1]["kid"]
    assert json.loads(first)["keys"][0]["kid"] not in kept


def test_the_signing_key_is_the_newest_published_long_enough():
    keyring = TokenKeyring.from_json(
        rotate_keyring_json(new_keyring_json(START), START + 100), "test"
    )
    first, second = keyring.keys
    assert keyring.signing_key(START, 7200) is first  # a new keyring signs at once
    assert keyring.signing_key(START + 100 + 7199, 7200) is first
    assert keyring.signing_key(START + 100 + 7200, 7200) is second


def test_the_key_tool_makes_and_rotates_keyrings(monkeypatch, capsys):
    assert token_keys.main(["new"]) == 0
    made = capsys.readouterr().out
    TokenKeyring.from_json(made, "made")
    monkeypatch.setattr(sys, "stdin", io.StringIO(made))
    assert token_keys.main(["rotate"]) == 0
    rotated = json.loads(capsys.readouterr().out)
    assert len(rotated["keys"]) == 2
    assert rotated["keys"][0] == json.loads(made)["keys"][0]
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"keys": []}'))
    assert token_keys.main(["rotate"]) == 1
    assert "not an access-token keyring" in capsys.readouterr().err
    assert token_keys.main([]) == 2


def _pem(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _keyring_of(*entries) -> str:
    return json.dumps({"keys": list(entries)})


GOOD = json.loads(new_keyring_json(START))["keys"][0]
WEAK_RSA = rsa.generate_private_key(65537, 1024)  # noqa: S505 (what the keyring refuses)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "not an access-token keyring"),
        ('{"keys": []}', "at least one key"),
        ('{"current": "k1"}', "not an access-token keyring"),
        (_keyring_of({**GOOD, "kid": "a b"}), "kid"),
        (_keyring_of({**GOOD, "added_at": "yesterday"}), "not an access-token keyring"),
        (_keyring_of({**GOOD, "added_at": "2027-01-15T08:00:00"}), "no UTC offset"),
        (_keyring_of({**GOOD, "private_key": 42}), "not an access-token keyring"),
        (_keyring_of({**GOOD, "private_key": "-----BEGIN PRIVATE KEY-----"}), "keyring"),
        (
            _keyring_of({**GOOD, "private_key": _pem(ec.generate_private_key(ec.SECP256R1()))}),
            "RSA key of at least 2048 bits",
        ),
        (
            _keyring_of({**GOOD, "private_key": _pem(WEAK_RSA)}),
            "RSA key of at least 2048 bits",
        ),
        (_keyring_of(GOOD, GOOD), "a kid appears twice"),
    ],
)
def test_a_malformed_keyring_parameter_is_a_clear_config_error(dynamodb, settings, text, reason):
    boto3.client("ssm").put_parameter(
        Name="/session-auth/access-token-keys", Value=text, Type="SecureString"
    )
    tokens = AccessTokens(
        replace(
            settings,
            access_token_keys_file=None,
            access_token_keys_parameter="/session-auth/access-token-keys",
        ),
        SystemClock(),
    )
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_KEYS_PARAMETER") as raised:
        _ = tokens.keyring
    assert reason in str(raised.value)
    assert "PRIVATE KEY" not in str(raised.value)  # never the key itself


def test_a_missing_keyring_parameter_is_a_clear_error_and_a_500(
    client, dynamodb, settings, clock, caplog
):
    new_container(
        dynamodb,
        settings,
        clock,
        access_token_keys_file=None,
        access_token_keys_parameter="/session-auth/missing",
    )
    response = ask_token(client, sign_up(client))
    assert response.status_code == 500
    assert response.json_body["error"]["code"] == "internal_error"
    assert (
        "ACCESS_TOKEN_KEYS_PARAMETER: there is no SSM parameter '/session-auth/missing'"
        in caplog.text
    )
    with pytest.raises(
        ConfigError, match=r"ACCESS_TOKEN_KEYS_PARAMETER \(SSM\) or ACCESS_TOKEN_KEYS_FILE"
    ):
        _ = AccessTokens(replace(settings, access_token_keys_file=None), clock).keyring


def test_deployed_stages_read_the_keyring_once_per_container_from_ssm(dynamodb, settings, clock):
    ssm = boto3.client("ssm")
    ssm.put_parameter(
        Name="/session-auth/access-token-keys",
        Value=new_keyring_json(START),
        Type="SecureString",
    )
    tokens = AccessTokens(
        replace(
            settings,
            access_token_keys_file=None,
            access_token_keys_parameter="/session-auth/access-token-keys",
        ),
        clock,
    )
    first = tokens.keyring
    ssm.delete_parameter(Name="/session-auth/access-token-keys")
    assert tokens.keyring is first  # read once, kept


# -- the sample route behind API Gateway's JWT authorizer -------------------------------------


def test_whoami_answers_from_the_claims_api_gateway_passed_and_never_a_session(services, calls):
    from app import app

    claims = {
        "sub": "user-1",
        "email": ANN,
        "scope": "api",
        "exp": "1800000300",
        "amr": "[pwd mfa]",  # how a JWT authorizer flattens arrays
    }
    response = app(http_api_event("GET", "/whoami", claims=claims), None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {
        "user_id": "user-1",
        "email": ANN,
        "scope": "api",
        "expires_at": 1800000300,
    }
    assert calls.operations == []  # no session read
    unverified = app(http_api_event("GET", "/whoami", {"authorization": "Bearer x.y.z"}), None)
    assert unverified["statusCode"] == 401  # nothing checked a token: not served
    assert json.loads(unverified["body"])["error"]["code"] == "unauthenticated"
