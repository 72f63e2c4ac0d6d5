"""Access tokens over real HTTP (`chalice local` on DynamoDB Local), verified the way a team's
other service would: PyJWT, the keys found through the discovery document, and the issuer,
the audience and the lifetime all required."""

from __future__ import annotations

import base64
import json
import os
import time

import jwt
import pytest
import requests

from chalicelib import runtime
from chalicelib.config import Settings
from tests.helpers import PASSWORD
from tests.integration.test_email_http import signed_up
from tests.integration.test_social_http import social_sign_in

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

ANN = "ann@example.com"
TIMEOUT = 60
REQUIRED = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"]


class OutsideService:
    """What another service of the team does: read our discovery document once, fetch the
    keys it names, and verify every token it is shown."""

    def __init__(self, origin: str, audience: str = "api") -> None:
        discovery = requests.get(f"{origin}/.well-known/openid-configuration", timeout=TIMEOUT)
        assert discovery.status_code == 200
        self.issuer = discovery.json()["issuer"]
        self.keys = jwt.PyJWKClient(discovery.json()["jwks_uri"], cache_keys=False)
        self.audience = audience

    def verify(self, token: str) -> dict:
        key = self.keys.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=self.audience,
            issuer=self.issuer,
            options={"require": REQUIRED},
        )


def test_a_cookie_session_gets_a_token_another_service_verifies(live_server):
    browser = signed_up(live_server)
    user = browser.get(f"{live_server.url}/auth/session").json()["user"]
    live_server.calls.clear()
    response = browser.post(f"{live_server.url}/auth/token")
    assert response.status_code == 200, response.text
    assert live_server.calls.operations == ["GetItem"]  # the session's read; nothing written
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 300)
    service = OutsideService(live_server.url)
    assert service.issuer == live_server.url  # chalice local: no stage prefix
    claims = service.verify(body["access_token"])
    assert claims["sub"] == user["id"]
    assert claims["email"] == ANN
    assert claims["aud"] == "api"
    assert claims["amr"] == ["pwd"]
    assert claims["scope"] == "api"
    assert claims["exp"] - claims["iat"] == 300
    assert abs(claims["iat"] - time.time()) < 60
    header = jwt.get_unverified_header(body["access_token"])
    assert (header["alg"], header["typ"]) == ("RS256", "at+jwt")


def test_a_bearer_session_gets_one_too(live_server):
    signed_up = requests.post(
        f"{live_server.url}/auth/signup",
        json={"email": ANN, "password": PASSWORD},
        headers={"X-Session-Transport": "token"},
        timeout=TIMEOUT,
    )
    bearer = signed_up.json()["session_token"]
    response = requests.post(
        f"{live_server.url}/auth/token",
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    assert "Set-Cookie" not in response.headers
    assert OutsideService(live_server.url).verify(response.json()["access_token"])["sub"]


def test_a_social_sign_in_says_federated(live_server):
    browser, signed_in = social_sign_in(live_server, "fed@example.com")
    assert signed_in.status_code == 303, signed_in.text
    response = browser.post(f"{live_server.url}/auth/token")
    assert response.status_code == 200, response.text
    claims = OutsideService(live_server.url).verify(response.json()["access_token"])
    assert claims["amr"] == ["fed"]
    assert claims["email"] == "fed@example.com"


def test_another_audience_only_when_listed(live_server, monkeypatch):
    monkeypatch.setenv("ACCESS_TOKEN_AUDIENCES", "api,orders")  # as a stage would list them
    runtime.use(runtime.build(Settings.from_env(os.environ), client=live_server.client))
    browser = signed_up(live_server)
    orders = browser.post(f"{live_server.url}/auth/token", json={"audience": "orders"})
    assert orders.status_code == 200, orders.text
    claims = OutsideService(live_server.url, audience="orders").verify(
        orders.json()["access_token"]
    )
    assert claims["aud"] == claims["client_id"] == "orders"
    with pytest.raises(jwt.InvalidAudienceError):  # a service of another audience refuses it
        OutsideService(live_server.url).verify(orders.json()["access_token"])
    refused = browser.post(f"{live_server.url}/auth/token", json={"audience": "billing"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_request"


def test_a_tampered_token_fails_verification(live_server):
    browser = signed_up(live_server)
    token = browser.post(f"{live_server.url}/auth/token").json()["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = "mallory@example.com"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    service = OutsideService(live_server.url)
    with pytest.raises(jwt.InvalidSignatureError):
        service.verify(f"{header}.{forged}.{signature}")
    unsigned = base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').decode().rstrip("=")
    with pytest.raises(jwt.PyJWTError):
        service.verify(f"{unsigned}.{payload}.")


def test_after_logout_no_new_token_but_an_issued_one_lives_until_exp(live_server):
    browser = signed_up(live_server)
    issued = browser.post(f"{live_server.url}/auth/token").json()["access_token"]
    cookie = {"Cookie": f"auth_session={browser.cookies['auth_session']}"}  # kept, as a thief would
    assert browser.post(f"{live_server.url}/auth/logout").status_code == 204
    refused = requests.post(f"{live_server.url}/auth/token", headers=cookie, timeout=TIMEOUT)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthenticated"
    # The trade, as documented: a token already out verifies until its exp.
    assert OutsideService(live_server.url).verify(issued)["exp"] > time.time()


def test_the_published_documents_are_cacheable_and_hold_no_private_key(live_server):
    for path in ("/.well-known/jwks.json", "/.well-known/openid-configuration"):
        response = requests.get(live_server.url + path, timeout=TIMEOUT)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=300"
        assert response.headers["Content-Type"] == "application/json"
    (key,) = requests.get(f"{live_server.url}/.well-known/jwks.json", timeout=TIMEOUT).json()[
        "keys"
    ]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
