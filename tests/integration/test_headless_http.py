"""The token transport and CORS over real HTTP (`chalice local` on DynamoDB Local): a client
with no cookie jar at all, as a native app is, and every JSON route's preflight."""

from __future__ import annotations

import http.client
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
import requests

from chalicelib.openapi import DOCUMENT
from chalicelib.totp import PERIOD
from devtools.dynamodb_local import ROOT
from tests.helpers import PASSWORD

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

ANN, BOB = "ann@example.com", "bob@example.com"
APP = "https://app.example.com"
TOKEN = {"X-Session-Transport": "token"}
TIMEOUT = 60
ANDROID = {"User-Agent": "Trainings/3.0 (Android 15)"}


def send(live_server, method: str, path: str, body: Any = None, bearer=None, headers=None):
    """One request of a client without cookies: module-level requests keeps no jar."""
    sent = {**(headers or {})}
    if bearer is not None:
        sent["Authorization"] = f"Bearer {bearer}"
    response = requests.request(
        method, live_server.url + path, json=body, headers=sent, timeout=TIMEOUT
    )
    assert "Set-Cookie" not in response.headers or not sent.get("Authorization", "").startswith(
        "Bearer"
    ), response.headers
    return response


def token_of(response) -> str:
    token = response.json()["session_token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert response.headers["X-Session-Token"] == token
    assert "Set-Cookie" not in response.headers
    return token


def dead(live_server, token: str) -> bool:
    response = send(live_server, "GET", "/auth/session", bearer=token)
    if response.status_code != 401:
        return False
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["error"]["code"] == "unauthenticated"
    return True


def test_a_native_app_from_sign_up_to_logout(live_server):
    signed_up = send(
        live_server, "POST", "/auth/signup", {"email": ANN, "password": PASSWORD}, headers=TOKEN
    )
    assert signed_up.status_code == 201
    first = token_of(signed_up)

    # Rotation on email verification: the old token dies, the new one comes back twice.
    code = live_server.outbox.code(ANN)
    verified = send(live_server, "POST", "/auth/email/verify", {"code": code}, bearer=first)
    assert verified.status_code == 200
    assert verified.json()["user"]["email_verified"] is True
    second = token_of(verified)
    assert dead(live_server, first)

    # An authenticator app, then a sign-in on another device that owes it.
    setup = send(live_server, "POST", "/auth/2fa/totp/setup", {"password": PASSWORD}, second)
    totp = pyotp.TOTP(setup.json()["secret"])
    enabled = send(live_server, "POST", "/auth/2fa/totp/enable", {"code": totp.now()}, second)
    assert enabled.status_code == 200
    third = token_of(enabled)
    assert dead(live_server, second)
    login = send(
        live_server,
        "POST",
        "/auth/login",
        {"email": ANN, "password": PASSWORD},
        headers={**TOKEN, **ANDROID},
    )
    assert login.json()["two_factor_required"] is True
    owing = token_of(login)
    code = totp.at(time.time() + PERIOD)  # the enable used this step's code
    given = send(live_server, "POST", "/auth/2fa/verify", {"code": code}, owing, headers=ANDROID)
    assert given.status_code == 200, given.text
    phone = token_of(given)
    assert dead(live_server, owing)

    # Listed with its user agent, revocable from the other session, at once.
    listed = send(live_server, "GET", "/auth/sessions", bearer=third).json()["sessions"]
    assert {s["user_agent"] for s in listed} == {
        "Trainings/3.0 (Android 15)",
        requests.utils.default_user_agent(),
    }
    (android,) = [s for s in listed if s["user_agent"].startswith("Trainings/")]
    assert android["ip"] == "127.0.0.1"
    revoked = send(live_server, "DELETE", f"/auth/sessions/{android['id']}", bearer=third)
    assert revoked.status_code == 204
    assert dead(live_server, phone)

    out = send(live_server, "POST", "/auth/logout", bearer=third)
    assert out.status_code == 204
    assert "Set-Cookie" not in out.headers
    assert dead(live_server, third)
    assert live_server.items("SESSION#") == []


def test_the_bearer_token_wins_over_another_users_cookie(live_server):
    ann = token_of(
        send(
            live_server, "POST", "/auth/signup", {"email": ANN, "password": PASSWORD}, headers=TOKEN
        )
    )
    bob = requests.post(
        f"{live_server.url}/auth/signup", json={"email": BOB, "password": PASSWORD}, timeout=TIMEOUT
    ).cookies["auth_session"]
    both = requests.get(
        f"{live_server.url}/auth/session",
        headers={"Authorization": f"Bearer {ann}", "Cookie": f"auth_session={bob}"},
        timeout=TIMEOUT,
    )
    assert both.status_code == 200
    assert both.json()["user"]["email"] == ANN
    assert "Set-Cookie" not in both.headers


def test_no_credential_gets_the_bearer_challenge(live_server):
    response = send(live_server, "GET", "/trainings")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def json_routes() -> list[tuple[str, list[str]]]:
    """Every JSON route of the OpenAPI document: all but the pages (and the browser
    navigations of social sign-in), with their methods."""
    document = json.loads(DOCUMENT.read_text())
    routes = []
    for path, item in document["paths"].items():
        organization_page = path in ("/orgs/new", "/orgs/invitation") or path.startswith(
            "/orgs/{org_id}/page"
        )
        api = (
            path.startswith(("/auth/", "/.well-known/", "/admin/users", "/admin/events", "/orgs"))
            or path in ("/trainings", "/openapi.json", "/whoami")
        ) and not organization_page
        if api and not path.startswith("/auth/oauth/"):
            routes.append((path, sorted(m.upper() for m in item if m != "parameters")))
    return routes


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "some-id", path)


def test_every_json_route_answers_its_preflight(live_server, allow_cors):
    allow_cors(APP)
    from app import app

    routes = json_routes()
    assert len(routes) == 59
    # Exactly these have a preflight route: the pages have none.
    assert {p for p, entries in app.routes.items() if "OPTIONS" in entries} == {
        p for p, _ in routes
    }
    for path, methods in routes:
        response = requests.options(
            live_server.url + concrete(path),
            headers={
                "Origin": APP,
                "Access-Control-Request-Method": methods[0],
                "Access-Control-Request-Headers": "authorization,content-type,x-session-transport",
            },
            timeout=TIMEOUT,
        )
        assert response.status_code == 204, path
        headers = response.headers
        assert headers["Access-Control-Allow-Origin"] == APP, path
        assert headers["Access-Control-Allow-Credentials"] == "true"
        assert headers["Access-Control-Allow-Methods"] == ", ".join(methods), path
        assert headers["Access-Control-Allow-Headers"] == (
            "Content-Type, Authorization, X-Session-Transport, X-Passkey-Attempt, X-Signup-Attempt"
        )
        assert headers["Access-Control-Max-Age"] == "600"
        assert headers["Access-Control-Expose-Headers"] == "Retry-After, X-Session-Token"
        assert headers["Vary"] == "Origin"


def test_pages_answer_no_preflight_and_carry_no_cors(live_server, allow_cors):
    allow_cors(APP)
    for path in ("/login", "/settings", "/auth/oauth/local"):
        response = requests.get(
            live_server.url + path, headers={"Origin": APP}, allow_redirects=False, timeout=TIMEOUT
        )
        assert not [h for h in response.headers if h.lower().startswith("access-control")], path


def test_errors_and_429s_reach_the_app(live_server, allow_cors):
    allow_cors(APP)
    origin = {"Origin": APP}
    requests.post(
        f"{live_server.url}/auth/signup", json={"email": ANN, "password": PASSWORD}, timeout=TIMEOUT
    )
    for _ in range(5):
        requests.post(
            f"{live_server.url}/auth/login",
            json={"email": ANN, "password": "not the password"},
            headers=origin,
            timeout=TIMEOUT,
        )
    throttled = requests.post(
        f"{live_server.url}/auth/login",
        json={"email": ANN, "password": PASSWORD},
        headers=origin,
        timeout=TIMEOUT,
    )
    assert throttled.status_code == 429
    assert throttled.headers["Access-Control-Allow-Origin"] == APP
    assert "Retry-After" in throttled.headers["Access-Control-Expose-Headers"]


RAW_HEADERS = [
    (b"Authorization", b"Bearer " + "é".encode() * 43),  # UTF-8 bytes on the wire
    (b"Authorization", b"Bearer " + b"A" * 10_000),
    (b"Authorization", b"Basic \xff\xfe"),
    (b"Authorization", b"NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="),
    (b"Origin", b"null"),
    (b"Origin", b"http://localhost:1/path"),
    (b"Origin", "https://\u00e9vil.example".encode()),
    (b"X-Session-Transport", b"cookie-and-token"),
    (b"X-Session-Transport", "t\u00f6ken".encode()),
]


@pytest.mark.parametrize(("name", "value"), RAW_HEADERS, ids=lambda v: repr(v)[:40])
def test_hostile_headers_over_the_wire_are_4xx_or_ignored(live_server, name, value):
    """Bytes as a hostile client writes them, past what requests would encode."""
    for method, path in (("GET", "/trainings"), ("POST", "/auth/logout"), ("GET", "/login")):
        url = urlsplit(live_server.url)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT)
        connection.putrequest(method, path)
        connection.putheader(name, value)
        connection.putheader(b"Content-Length", b"0")
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert response.status < 500, (path, body)
        if path != "/login" and response.status >= 400:
            assert set(json.loads(body)) == {"error"}


def readme_snippet(section: str, language: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    text = readme.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)
    return code


def test_the_readme_native_app_snippet_runs_as_written(live_server, capsys):
    code = readme_snippet("Use it from a native app", "python")
    assert 'API = "http://localhost:8000"' in code
    code = code.replace("http://localhost:8000", live_server.url)
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 (our own README)
    assert capsys.readouterr().out == "Password hygiene\n"
    assert live_server.items("SESSION#") == []  # logged out
