"""The JSON API without cookies (the token transport) and from another origin (CORS): what a
native app and a single-page app see, through Chalice's test client on moto."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pyotp
import pytest
from chalice.test import Client

from chalicelib import runtime
from tests.conftest import table_items
from tests.helpers import (
    PASSWORD,
    SesMailbox,
    call,
    parse_set_cookie,
    session_token,
    set_cookies,
    sign_up,
)
from tests.softkey import SoftKey

ANN, BOB = "ann@example.com", "bob@example.com"
APP = "https://app.example.com"
TOKEN_SIGN_IN = {"X-Session-Transport": "token"}


def token_call(client, method, path, body=None, bearer=None, headers=None):
    """A request of a client with no cookie jar: the bearer token, if any, and no Cookie."""
    sent = dict(headers or {})
    if bearer is not None:
        sent["Authorization"] = f"Bearer {bearer}"
    return call(client, method, path, body, headers=sent)


def handed_token(response) -> str:
    """The new session's token of a token-transport response: in the body and the header,
    the same, and never a session cookie."""
    token = response.json_body["session_token"]
    assert len(token) == 43
    assert response.headers["X-Session-Token"] == token
    assert "Set-Cookie" not in response.headers
    return token


def token_sign_up(client, email=ANN, *, verified=False) -> str:
    response = token_call(
        client,
        "POST",
        "/auth/signup",
        {"email": email, "password": PASSWORD},
        headers=TOKEN_SIGN_IN,
    )
    assert response.status_code == 201, response.body
    assert response.json_body["user"]["email"] == email
    token = handed_token(response)
    if verified:
        code = {"code": SesMailbox().code(email)}
        token = handed_token(token_call(client, "POST", "/auth/email/verify", code, bearer=token))
    return token


def with_credentials(client, path, headers):
    """Ann's email and password posted to `path` with `headers`, and no cookie."""
    return token_call(client, "POST", path, {"email": ANN, "password": PASSWORD}, headers=headers)


def assert_invalid_token(response):
    assert response.status_code == 401
    assert response.json_body["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert "Set-Cookie" not in response.headers


def session_items(dynamodb, settings) -> list[dict[str, Any]]:
    return [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith("SESSION#")
    ]


# -- the token transport ---------------------------------------------------------------------


def test_a_token_sign_up_answers_with_the_token_and_no_cookie(client, dynamodb, settings):
    token = token_sign_up(client)
    (item,) = session_items(dynamodb, settings)
    assert token not in json.dumps(item)  # stored as a digest, like a cookie's

    me = token_call(client, "GET", "/auth/session", bearer=token)
    assert me.status_code == 200
    assert me.json_body["user"]["email"] == ANN
    assert "Set-Cookie" not in me.headers
    assert "session_token" not in me.json_body  # only a new session is handed out


def test_a_token_login_and_a_cookie_login_are_the_same_kind_of_session(client):
    token_sign_up(client)
    login = with_credentials(client, "/auth/login", TOKEN_SIGN_IN)
    assert login.status_code == 200
    assert login.json_body["two_factor_required"] is False
    bearer = handed_token(login)
    cookie = session_token(
        call(client, "POST", "/auth/login", {"email": ANN, "password": PASSWORD})
    )
    listed = token_call(client, "GET", "/auth/sessions", bearer=bearer).json_body["sessions"]
    assert len(listed) == 3  # the sign-up's, the token login's and the cookie login's
    # Either credential reads the same user.
    by_cookie = call(client, "GET", "/auth/session", token=cookie).json_body["user"]
    by_bearer = token_call(client, "GET", "/auth/session", bearer=bearer).json_body["user"]
    assert by_cookie == by_bearer


def test_a_token_sign_in_ends_the_cookie_session_the_client_held(client):
    """docs/api.md: a sign-in ends the session the client held. A client that holds a cookie
    and signs in on the token transport held that cookie's session: it ends, and the cookie
    is blanked beside the token handed back."""
    cookie = sign_up(client)
    credentials = {"email": ANN, "password": PASSWORD}
    response = call(client, "POST", "/auth/login", credentials, token=cookie, headers=TOKEN_SIGN_IN)
    assert response.status_code == 200, response.body
    token = response.json_body["session_token"]
    (blank,) = set_cookies(response.headers)
    name, value, attributes = parse_set_cookie(blank)
    assert (name, value, attributes["max-age"]) == ("auth_session", "", "0")
    assert call(client, "GET", "/auth/session", token=cookie).status_code == 401
    assert token_call(client, "GET", "/auth/session", bearer=token).status_code == 200


def test_no_credential_is_401_with_a_bearer_challenge(client):
    response = token_call(client, "GET", "/trainings")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    # A browser's missing cookie gets the same challenge (every 401 has one).
    assert call(client, "GET", "/trainings").headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "presented",
    ["A" * 43, "", "not-a-token", "A" * 10_000, "é" * 43, "A" * 42 + "=", "a b c"],
    ids=["unknown", "empty", "malformed", "10 KB", "non-ASCII", "padded", "spaces"],
)
def test_a_bad_bearer_token_is_401_invalid_token_without_a_cookie(client, calls, presented):
    token_sign_up(client)
    calls.clear()
    response = call(client, "GET", "/trainings", headers={"Authorization": f"Bearer {presented}"})
    assert_invalid_token(response)
    # Only a well-formed token costs a read.
    assert calls.operations == (["GetItem"] if presented == "A" * 43 else [])


def test_the_bearer_token_wins_over_another_users_cookie(client):
    ann = token_sign_up(client, ANN)
    bob_cookie = sign_up(client, BOB)
    response = call(
        client,
        "GET",
        "/auth/session",
        token=bob_cookie,
        headers={"Authorization": f"Bearer {ann}"},
    )
    assert response.status_code == 200
    assert response.json_body["user"]["email"] == ANN
    assert "Set-Cookie" not in response.headers
    # And a dead bearer token does not fall back to the live cookie.
    assert token_call(client, "POST", "/auth/logout", bearer=ann).status_code == 204
    dead = call(
        client, "GET", "/auth/session", token=bob_cookie, headers={"Authorization": f"Bearer {ann}"}
    )
    assert_invalid_token(dead)


def test_a_bearer_session_slides_and_is_capped_like_a_cookie(client, clock):
    token = token_sign_up(client)
    first = token_call(client, "GET", "/auth/session", bearer=token).json_body["session"]
    clock.advance(days=16)  # past half of the 30-day lifetime
    slid = token_call(client, "GET", "/auth/session", bearer=token)
    assert slid.status_code == 200
    assert slid.json_body["session"]["fresh"] is True
    assert slid.json_body["session"]["expires_at"] > first["expires_at"]
    assert "Set-Cookie" not in slid.headers  # the same token: nothing to hand out
    assert "session_token" not in slid.json_body
    for _ in range(4):  # active every 16 days: alive until the 90-day cap, not one day more
        clock.advance(days=16)
        assert token_call(client, "GET", "/auth/session", bearer=token).status_code == 200
    clock.advance(days=16)
    assert_invalid_token(token_call(client, "GET", "/auth/session", bearer=token))


def test_logout_with_the_bearer_token_ends_it_at_once(client, dynamodb, settings):
    token = token_sign_up(client)
    response = token_call(client, "POST", "/auth/logout", bearer=token)
    assert response.status_code == 204
    assert "Set-Cookie" not in response.headers
    assert session_items(dynamodb, settings) == []
    assert_invalid_token(token_call(client, "GET", "/auth/session", bearer=token))


def test_email_verification_rotates_the_token(client, mailbox):
    old = token_sign_up(client)
    verified = token_call(
        client, "POST", "/auth/email/verify", {"code": mailbox.code(ANN)}, bearer=old
    )
    assert verified.status_code == 200
    assert verified.json_body["user"]["email_verified"] is True
    new = handed_token(verified)
    assert new != old
    assert_invalid_token(token_call(client, "GET", "/auth/session", bearer=old))
    assert token_call(client, "GET", "/auth/session", bearer=new).status_code == 200


def test_the_second_factor_by_token(client, clock):
    token = token_sign_up(client, verified=True)
    setup = token_call(client, "POST", "/auth/2fa/totp/setup", {"password": PASSWORD}, bearer=token)
    secret = setup.json_body["secret"]
    enabled = token_call(
        client,
        "POST",
        "/auth/2fa/totp/enable",
        {"code": pyotp.TOTP(secret).at(clock.now())},
        bearer=token,
    )
    assert enabled.status_code == 200
    assert len(enabled.json_body["recovery_codes"]) == 10
    verified_token = handed_token(enabled)
    assert_invalid_token(token_call(client, "GET", "/auth/session", bearer=token))

    clock.advance(seconds=30)
    login = with_credentials(client, "/auth/login", TOKEN_SIGN_IN)
    assert login.json_body["two_factor_required"] is True
    owing = handed_token(login)
    blocked = token_call(client, "GET", "/auth/sessions", bearer=owing)
    assert blocked.status_code == 403
    assert blocked.json_body["error"]["code"] == "two_factor_required"
    second = token_call(
        client, "POST", "/auth/2fa/verify", {"code": pyotp.TOTP(secret).at(clock.now())}, owing
    )
    assert second.status_code == 200
    given = handed_token(second)
    assert_invalid_token(token_call(client, "GET", "/auth/session", bearer=owing))
    assert token_call(client, "GET", "/auth/sessions", bearer=given).status_code == 200

    # Turning it off rotates too: its 204 becomes a 200 that carries the new token.
    clock.advance(seconds=30)
    off = token_call(
        client,
        "DELETE",
        "/auth/2fa",
        {"password": PASSWORD, "code": pyotp.TOTP(secret).at(clock.now())},
        bearer=given,
    )
    assert off.status_code == 200, off.body
    assert set(off.json_body) == {"session_token"}
    after = handed_token(off)
    assert (
        token_call(client, "GET", "/auth/session", bearer=after).json_body["user"][
            "two_factor_enabled"
        ]
        is False
    )
    assert verified_token != after


def test_token_sessions_are_listed_and_revocable_from_a_cookie_session(client):
    cookie = sign_up(client, ANN)
    phone = with_credentials(
        client,
        "/auth/login",
        {**TOKEN_SIGN_IN, "User-Agent": "Trainings/2.1 (iPhone)"},
    )
    bearer = handed_token(phone)
    listed = call(client, "GET", "/auth/sessions", token=cookie).json_body["sessions"]
    (phone_session,) = [s for s in listed if s["user_agent"] == "Trainings/2.1 (iPhone)"]
    assert phone_session["current"] is False
    revoked = call(client, "DELETE", f"/auth/sessions/{phone_session['id']}", token=cookie)
    assert revoked.status_code == 204
    assert_invalid_token(token_call(client, "GET", "/auth/session", bearer=bearer))


def test_a_bearer_request_is_not_subject_to_the_cross_origin_check(client):
    token = token_sign_up(client)
    evil = {"Origin": "https://evil.example"}
    cookie = session_token(
        call(client, "POST", "/auth/login", {"email": ANN, "password": PASSWORD})
    )
    refused = call(client, "POST", "/auth/logout", token=cookie, headers=evil)
    assert refused.status_code == 403
    assert refused.json_body["error"]["code"] == "cross_origin_request"
    # The bearer token is no ambient credential: no other site can make a browser send it.
    assert token_call(client, "POST", "/auth/logout", bearer=token, headers=evil).status_code == 204


def test_a_token_sign_in_still_checks_the_origin_without_a_bearer(client):
    response = with_credentials(
        client, "/auth/signup", {**TOKEN_SIGN_IN, "Origin": "https://evil.example"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize("value", ["tokens", "bearer", "TOKEN ", "1", "token, cookie"])
def test_an_unknown_transport_is_400_and_changes_nothing(client, dynamodb, settings, value):
    response = with_credentials(client, "/auth/signup", {"X-Session-Transport": value})
    if value.strip().lower() == "token":
        assert response.status_code == 201  # the value is read case- and space-insensitively
        return
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "invalid_request"
    assert table_items(dynamodb, settings.table_name) == []


def test_an_explicit_cookie_transport_is_the_cookie(client):
    response = with_credentials(client, "/auth/signup", {"X-Session-Transport": "cookie"})
    assert "session_token" not in response.json_body
    assert session_token(response)


@pytest.mark.parametrize(
    "authorization", ["Basic YW5uOnB3", "Digest username=ann", "Token abc", "Bearer"]
)
def test_other_schemes_are_ignored_and_the_cookie_counts(client, authorization):
    cookie = sign_up(client, ANN)
    response = call(
        client, "GET", "/auth/session", token=cookie, headers={"Authorization": authorization}
    )
    if authorization == "Bearer":  # ours, without a token: a token request that fails
        assert_invalid_token(response)
    else:
        assert response.status_code == 200


def test_pages_ignore_the_bearer_token_and_the_transport(client):
    token = token_sign_up(client)
    page = client.http.get(
        "/settings", headers={"Authorization": f"Bearer {token}", "X-Session-Transport": "x"}
    )
    assert page.status_code == 303
    assert page.headers["Location"] == "/login"
    assert "WWW-Authenticate" not in page.headers


def test_a_passkey_sign_in_binds_its_attempt_without_cookies(client):
    key = SoftKey()
    cookie = sign_up(client, ANN)
    options = call(
        client, "POST", "/auth/passkeys/register/options", {"password": PASSWORD}, cookie
    )
    registered = call(
        client,
        "POST",
        "/auth/passkeys/register",
        {"credential": key.create(options.json_body), "name": "Phone"},
        cookie,
    )
    assert registered.status_code == 201

    asked = token_call(client, "POST", "/auth/passkeys/login/options", headers=TOKEN_SIGN_IN)
    assert asked.status_code == 200
    assert "Set-Cookie" not in asked.headers
    attempt = asked.json_body["passkey_attempt"]
    answer = key.get(asked.json_body)
    # Without the attempt, the challenge answers for no one.
    stray = token_call(
        client, "POST", "/auth/passkeys/login", {"credential": answer}, headers=TOKEN_SIGN_IN
    )
    assert stray.status_code == 401
    signed_in = token_call(
        client,
        "POST",
        "/auth/passkeys/login",
        {"credential": answer},
        headers={**TOKEN_SIGN_IN, "X-Passkey-Attempt": attempt},
    )
    assert signed_in.status_code == 200, signed_in.body
    token = handed_token(signed_in)
    assert token_call(client, "GET", "/auth/sessions", bearer=token).status_code == 200
    again = token_call(
        client,
        "POST",
        "/auth/passkeys/login",
        {"credential": answer},
        headers={**TOKEN_SIGN_IN, "X-Passkey-Attempt": attempt},
    )
    assert again.status_code == 401  # used up


def test_account_deletion_by_token_ends_it(client, dynamodb, settings):
    token = token_sign_up(client)
    deleted = token_call(client, "DELETE", "/auth/account", {"password": PASSWORD}, bearer=token)
    assert deleted.status_code == 204
    assert "Set-Cookie" not in deleted.headers
    assert_invalid_token(token_call(client, "GET", "/auth/session", bearer=token))


def test_the_favicon_is_a_plain_cacheable_404(client):
    response = client.http.get("/favicon.ico")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Cache-Control"] == "max-age=86400"


# -- CORS --------------------------------------------------------------------------------------


@pytest.fixture
def cors_client(dynamodb, settings, clock, pauses):
    cors_settings = replace(settings, cors_origins=(APP, "http://localhost:5173"))
    runtime.use(runtime.build(cors_settings, client=dynamodb, clock=clock, pause=pauses))
    from app import app

    with Client(app) as test_client:
        yield test_client
    runtime.use(None)


def assert_cors(response, origin=APP):
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After, X-Session-Token"
    assert response.headers["Vary"] == "Origin"


def assert_no_cors(response):
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


def test_a_listed_origin_gets_cors_headers_on_every_json_response(cors_client):
    origin = {"Origin": APP}
    created = call(
        cors_client, "POST", "/auth/signup", {"email": ANN, "password": PASSWORD}, headers=origin
    )
    assert created.status_code == 201  # trusted by the cross-origin check too
    assert_cors(created)
    cookie = session_token(created)
    assert_cors(call(cors_client, "GET", "/trainings", token=cookie, headers=origin))
    unauthenticated = call(cors_client, "GET", "/trainings", headers=origin)
    assert unauthenticated.status_code == 401
    assert_cors(unauthenticated)  # the app can read the error body
    bad = cors_client.http.post("/auth/login", headers={**origin, "Content-Type": "text/plain"})
    assert bad.status_code == 415
    assert_cors(bad)
    assert_cors(
        call(cors_client, "GET", "/trainings", headers={"Origin": "http://localhost:5173"}),
        "http://localhost:5173",
    )


def test_429s_carry_cors_headers_and_expose_retry_after(cors_client):
    call(cors_client, "POST", "/auth/signup", {"email": ANN, "password": PASSWORD})
    origin = {"Origin": APP}
    for _ in range(5):
        call(
            cors_client,
            "POST",
            "/auth/login",
            {"email": ANN, "password": "wrong one!"},
            headers=origin,
        )
    throttled = call(
        cors_client, "POST", "/auth/login", {"email": ANN, "password": PASSWORD}, headers=origin
    )
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"]
    assert_cors(throttled)


def test_preflights_answer_with_the_routes_methods(cors_client):
    asked = {
        "Origin": APP,
        "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    response = cors_client.http.request("OPTIONS", "/auth/sessions", headers=asked)
    assert response.status_code == 204
    assert_cors(response)
    assert response.headers["Access-Control-Allow-Methods"] == "DELETE, GET"
    assert response.headers["Access-Control-Allow-Headers"] == (
        "Content-Type, Authorization, X-Session-Transport, X-Passkey-Attempt, X-Signup-Attempt"
    )
    assert response.headers["Access-Control-Max-Age"] == "600"
    one = cors_client.http.request("OPTIONS", "/auth/login", headers=asked)
    assert one.headers["Access-Control-Allow-Methods"] == "POST"
    parameterised = cors_client.http.request("OPTIONS", "/auth/passkeys/some-id", headers=asked)
    assert parameterised.status_code == 204
    assert parameterised.headers["Access-Control-Allow-Methods"] == "DELETE, PATCH"


def test_an_unlisted_origin_gets_no_cors_headers_and_stays_refused(cors_client):
    evil = {"Origin": "https://evil.example"}
    preflight = cors_client.http.request("OPTIONS", "/auth/login", headers=evil)
    assert preflight.status_code == 204
    assert_no_cors(preflight)
    assert preflight.headers["Vary"] == "Origin"
    response = call(
        cors_client, "POST", "/auth/signup", {"email": ANN, "password": PASSWORD}, headers=evil
    )
    assert response.status_code == 403
    assert response.json_body["error"]["code"] == "cross_origin_request"
    assert_no_cors(response)


@pytest.mark.parametrize("origin", ["null", f"{APP}/path", APP.upper(), f"{APP}:443", "*"])
def test_look_alike_origins_are_unlisted(cors_client, origin):
    response = call(cors_client, "GET", "/trainings", headers={"Origin": origin})
    assert response.status_code == 401
    assert_no_cors(response)
    refused = call(
        cors_client,
        "POST",
        "/auth/signup",
        {"email": ANN, "password": PASSWORD},
        headers={"Origin": origin},
    )
    assert refused.status_code == 403


@pytest.mark.parametrize("path", ["/", "/login", "/settings", "/static/style.css", "/favicon.ico"])
def test_pages_never_carry_cors_headers(cors_client, path):
    response = cors_client.http.get(path, headers={"Origin": APP})
    assert_no_cors(response)
    assert "Vary" not in response.headers


def test_without_cors_origins_nothing_changes(client):
    response = call(client, "GET", "/trainings", headers={"Origin": APP})
    assert_no_cors(response)
    assert "Vary" not in response.headers
