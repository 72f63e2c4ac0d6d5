"""The real flow over HTTP: a cookie-keeping client, chalice local, DynamoDB Local."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from chalicelib.sessions import token_digest
from chalicelib.trainings import TRAININGS
from tests.helpers import PASSWORD, Browser, parse_set_cookie

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test


def raw_set_cookies(response: requests.Response) -> list[str]:
    return response.raw.headers.getlist("Set-Cookie")


def test_signup_session_trainings_logout(live_server):
    browser = Browser()
    url = live_server.url

    signup = browser.post(
        f"{url}/auth/signup", json={"email": "Ann@Example.com", "password": PASSWORD}
    )
    assert signup.status_code == 201
    user = signup.json()["user"]
    assert user["email"] == "ann@example.com"
    assert signup.headers["Cache-Control"] == "no-store"
    (cookie,) = raw_set_cookies(signup)
    name, token, attrs = parse_set_cookie(cookie)
    assert name == "auth_session"
    assert set(attrs) == {"expires", "httponly", "max-age", "path", "samesite"}
    assert (attrs["path"], attrs["samesite"]) == ("/", "Lax")
    # 30 days; on the wall clock the second may tick between creating the session and the cookie
    # (the unit tests pin the exact value with a fake clock).
    assert attrs["max-age"] in {"2592000", "2591999"}

    session = browser.get(f"{url}/auth/session")
    assert session.status_code == 200
    assert session.json()["user"] == user
    assert session.json()["session"]["fresh"] is False
    assert raw_set_cookies(session) == []

    trainings = browser.get(f"{url}/trainings")
    assert trainings.status_code == 200
    assert trainings.json() == {"trainings": list(TRAININGS)}

    logout = browser.post(f"{url}/auth/logout")
    assert logout.status_code == 204
    (blank,) = raw_set_cookies(logout)
    assert parse_set_cookie(blank)[:2] == ("auth_session", "")
    assert parse_set_cookie(blank)[2]["max-age"] == "0"
    assert "auth_session" not in browser.cookies
    assert live_server.items("SESSION#") == []

    # The old cookie, replayed by an attacker who kept it, is dead at once.
    replay = Browser().get(f"{url}/trainings", cookies={"auth_session": token})
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "unauthenticated"
    assert parse_set_cookie(raw_set_cookies(replay)[0])[1] == ""


def test_a_table_dump_holds_no_usable_cookie_or_password(live_server):
    browser = Browser()
    browser.post(
        f"{live_server.url}/auth/signup", json={"email": "ann@example.com", "password": PASSWORD}
    )
    token = browser.cookies["auth_session"]
    dump = json.dumps(live_server.items())
    assert token not in dump
    assert PASSWORD not in dump
    assert f"SESSION#{token_digest(token)}" in dump
    (session_item,) = live_server.items("SESSION#")
    assert session_item["expires_at"]["N"].isdigit()  # a Number: the TTL attribute


def test_login_rotates_the_session_and_wrong_credentials_are_uniform(live_server):
    url = live_server.url
    browser = Browser()
    browser.post(f"{url}/auth/signup", json={"email": "ann@example.com", "password": PASSWORD})
    first = browser.cookies["auth_session"]

    wrong = Browser().post(
        f"{url}/auth/login", json={"email": "ann@example.com", "password": "nope nope"}
    )
    unknown = Browser().post(
        f"{url}/auth/login", json={"email": "bob@example.com", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content

    login = browser.post(
        f"{url}/auth/login", json={"email": "ANN@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200
    second = browser.cookies["auth_session"]
    assert second != first
    assert [i["pk"]["S"] for i in live_server.items("SESSION#")] == [
        f"SESSION#{token_digest(second)}"
    ]
    assert browser.get(f"{url}/trainings").status_code == 200


def test_bad_input_never_yields_a_5xx(live_server):
    url = live_server.url
    cases = [
        ("POST", "/auth/signup", {"Content-Type": "application/json"}, b"{not json"),
        ("POST", "/auth/signup", {"Content-Type": "application/json"}, b"\xff\xfe"),
        ("POST", "/auth/signup", {"Content-Type": "text/plain"}, b"{}"),
        (
            "POST",
            "/auth/login",
            {"Content-Type": "application/json"},
            b'{"email": 1, "password": 2}',
        ),
        ("POST", "/auth/signup", {"Content-Type": "application/json"}, b"x" * 70_000),
        ("GET", "/auth/session", {"Cookie": "auth_session=" + "x" * 4000}, None),
        ("GET", "/auth/session", {"Cookie": "a=\x01\x02; auth_session=\x7f"}, None),
        ("DELETE", "/auth/session", {}, None),
    ]
    for method, path, headers, body in cases:
        response = Browser().request(method, url + path, headers=headers, data=body)
        assert 400 <= response.status_code < 500, (path, headers, response.status_code)
        assert set(response.json()["error"]) == {"code", "message"}


def test_dynamodb_calls_per_endpoint(live_server):
    """Measured with botocore's event hooks; the figures the README quotes."""
    url, calls = live_server.url, live_server.calls
    browser = Browser()

    def measure(method: str, path: str, client: Browser = browser, **kwargs: object) -> list[str]:
        calls.clear()
        response = client.request(method, url + path, **kwargs)
        assert response.status_code < 400, response.text
        return list(calls.operations)

    credentials = {"email": "ann@example.com", "password": PASSWORD}
    # The sign-up counted against the client's address and the email address (every answer
    # counts, so before anything else; a counter not yet live is started by a conditional put
    # after its increment finds nothing), then the user, the email claim and the first
    # session, all or nothing.
    assert measure("POST", "/auth/signup", json=credentials) == [
        *("UpdateItem", "PutItem"),
        *("UpdateItem", "PutItem"),
        "TransactWriteItems",
    ]
    assert measure("GET", "/auth/session") == ["GetItem"]
    assert measure("GET", "/trainings") == ["GetItem"]
    code = {"code": live_server.outbox.code("ann@example.com")}
    assert browser.post(f"{url}/auth/email/verify", json=code).status_code == 200
    # Verified, as most accounts are (an unverified one's login also checks, in a transaction,
    # that its address is still unproven). Two round trips: the email's, the IP's (and a
    # device's) failure counters with the email's claim (the login view), then the new
    # session, written with the presented one's deletion and this browser made known to the
    # account (its device cookie).
    assert measure("POST", "/auth/login", json=credentials) == [
        "BatchGetItem",
        "TransactWriteItems",
    ]
    known = Browser()
    known.cookies.set("device", browser.cookies["device"])  # a browser the account knows
    assert measure("POST", "/auth/login", client=known, json=credentials) == [
        "BatchGetItem",
        # No session to replace, nothing more to note: the session, with the condition that
        # the account is still unbanned and holds the roles it carries (docs/admin.md).
        "TransactWriteItems",
    ]
    wrong = {**credentials, "password": "not the password"}
    calls.clear()
    assert Browser().post(f"{url}/auth/login", json=wrong).status_code == 401
    # The same read, then one call that counts the failure against the email and the IP;
    # and, once a container every 5 minutes, a read of the imported hash formats the stage
    # holds (what a failure's timing waits out: docs/migration.md). A success never reads it.
    assert calls.operations in (
        ["BatchGetItem", "TransactWriteItems"],
        ["BatchGetItem", "GetItem", "TransactWriteItems"],
    )
    # With earlier failures, a success clears the email's counter in its one write.
    fresh = Browser()
    assert measure("POST", "/auth/login", client=fresh, json=credentials) == [
        "BatchGetItem",
        "TransactWriteItems",
    ]
    assert measure("POST", "/auth/logout") == ["DeleteItem"]
    assert measure("POST", "/auth/logout") == []
    assert all(call[1].get("ConsistentRead") for call in calls.calls if call[0] == "GetItem")


def test_a_cross_site_form_post_cannot_log_a_browser_out(live_server):
    browser = Browser()
    browser.post(
        f"{live_server.url}/auth/signup", json={"email": "ann@example.com", "password": PASSWORD}
    )
    forged = browser.post(
        f"{live_server.url}/auth/logout",
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.test"},
    )
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "cross_origin_request"
    assert browser.get(f"{live_server.url}/trainings").status_code == 200


def test_dynamodb_calls_per_account_endpoint(live_server):
    url, calls = live_server.url, live_server.calls
    browser = Browser()
    credentials = {"email": "ann@example.com", "password": PASSWORD}
    browser.post(f"{url}/auth/signup", json=credentials)
    Browser().post(f"{url}/auth/login", json=credentials)

    def measure(method: str, path: str, **kwargs: object) -> list[str]:
        calls.clear()
        response = browser.request(method, url + path, **kwargs)
        assert response.status_code < 400, response.text
        return list(calls.operations)

    # The index holds keys: the live fields come from the base table in one batch.
    assert measure("GET", "/auth/sessions") == ["GetItem", "Query", "BatchGetItem"]
    other = next(
        s["id"] for s in browser.get(f"{url}/auth/sessions").json()["sessions"] if not s["current"]
    )
    assert measure("DELETE", f"/auth/sessions/{other}") == ["GetItem", "Query", "DeleteItem"]
    Browser().post(f"{url}/auth/login", json=credentials)
    assert measure("DELETE", "/auth/sessions") == ["GetItem", "Query", "BatchWriteItem"]
    new_password = "a brand new passphrase"
    change = {"current_password": PASSWORD, "new_password": new_password}
    assert measure("POST", "/auth/password", json=change) == [
        "GetItem",  # session
        "BatchGetItem",  # failure counters and the email's claim (the password hash)
        "Query",  # the user's sessions
        "TransactWriteItems",  # new hash, every session deleted, the new session: atomically
        "UpdateItem",  # this browser made known: the claim again (one write per item above)
    ]
    assert measure("DELETE", "/auth/account", json={"password": new_password}) == [
        "GetItem",
        "BatchGetItem",
        "Query",
        "TransactWriteItems",  # user, email claim and sessions
        "Query",  # the sweep for a login that raced with the deletion
    ]


def test_odd_bytes_in_the_cookie_header_get_a_4xx_in_the_error_shape(live_server):
    """Raw bytes no HTTP client library would send: high bytes, controls, a lone CR."""
    host, port = live_server.url.removeprefix("http://").split(":")
    for cookie in [
        b"auth_session=\xff\xfe\x80\x81",
        b"a=\x01\x02\x7f; auth_session=\x00x",
        b"\xc3\x28=\xe2\x82",
    ]:
        request = (
            b"GET /trainings HTTP/1.1\r\nHost: x\r\nCookie: "
            + cookie
            + b"\r\nConnection: close\r\n\r\n"
        )
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(request)
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        head, _, body = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        assert 400 <= status < 500, (cookie, head)
        assert set(json.loads(body)["error"]) == {"code", "message"}
