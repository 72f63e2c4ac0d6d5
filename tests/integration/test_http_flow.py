"""The real flow over HTTP: a cookie-keeping client, chalice local, DynamoDB Local."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import requests

from chalicelib.sessions import token_digest
from chalicelib.trainings import TRAININGS
from tests.helpers import parse_set_cookie
from tests.integration.conftest import Browser

PASSWORD = "correct horse battery"


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
    assert (attrs["max-age"], attrs["path"], attrs["samesite"]) == ("2592000", "/", "Lax")

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


def test_concurrent_signups_with_one_email_make_one_account(live_server):
    def attempt(i: int) -> int:
        email = "Ann@Example.com" if i % 2 else "ann@example.COM"
        body = {"email": email, "password": PASSWORD}
        return Browser().post(f"{live_server.url}/auth/signup", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(attempt, range(8)))
    assert statuses == [201] + [409] * 7
    assert len(live_server.items("USER#")) == 1
    assert len(live_server.items("EMAIL#")) == 1


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

    def measure(method: str, path: str, **kwargs: object) -> list[str]:
        calls.clear()
        response = browser.request(method, url + path, **kwargs)
        assert response.status_code < 400, response.text
        return list(calls.operations)

    credentials = {"email": "ann@example.com", "password": PASSWORD}
    assert measure("POST", "/auth/signup", json=credentials) == ["TransactWriteItems", "PutItem"]
    assert measure("GET", "/auth/session") == ["GetItem"]
    assert measure("GET", "/trainings") == ["GetItem"]
    # Signed in already: the presented session is deleted before the new one is written.
    assert measure("POST", "/auth/login", json=credentials) == [
        "BatchGetItem",  # the email's and the IP's failure counters
        "GetItem",
        "GetItem",
        "DeleteItem",
        "PutItem",
    ]
    assert measure("POST", "/auth/logout") == ["DeleteItem"]
    assert measure("POST", "/auth/logout") == []
    assert all(call[1].get("ConsistentRead") for call in calls.calls if call[0] == "GetItem")


def test_parallel_failed_logins_are_all_counted(live_server):
    def fail(i: int) -> int:
        body = {"email": "ann@example.com", "password": f"wrong password {i}"}
        # Distinct client addresses are not possible through one socket; the email counter is.
        return Browser().post(f"{live_server.url}/auth/login", json=body).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(fail, range(4)))
    assert statuses == [401] * 4
    counters = {i["pk"]["S"]: int(i["failures"]["N"]) for i in live_server.items("THROTTLE#")}
    assert counters == {"THROTTLE#email#ann@example.com": 4, "THROTTLE#ip#127.0.0.1": 4}


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

    assert measure("GET", "/auth/sessions") == ["GetItem", "Query"]
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
        "BatchGetItem",  # failure counters
        "GetItem",  # user
        "UpdateItem",  # password hash
        "Query",  # the user's sessions
        "BatchWriteItem",  # ... deleted
        "DeleteItem",  # the presented session, in case the index had not caught up
        "PutItem",  # the new session
    ]
    assert measure("DELETE", "/auth/account", json={"password": new_password}) == [
        "GetItem",
        "BatchGetItem",
        "GetItem",
        "Query",
        "BatchWriteItem",
        "TransactWriteItems",  # user + email claim
        "Query",  # the sweep for a racing login
        "DeleteItem",
    ]
