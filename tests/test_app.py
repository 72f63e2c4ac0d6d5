"""The HTTP contract, through Chalice's test client on moto."""

import json

import pytest

from chalicelib.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidEmail,
    InvalidPassword,
    Unauthenticated,
)
from chalicelib.sessions import token_digest
from chalicelib.trainings import TRAININGS
from tests.conftest import START, table_items
from tests.helpers import (
    PASSWORD,
    error_body,
    parse_set_cookie,
    session_token,
    set_cookies,
    sign_up,
)

DAY = 86400
JSON = {"Content-Type": "application/json"}


def post(client, path, body=None, cookie=None, headers=None):
    all_headers = {**JSON, **(headers or {})}
    if cookie:
        all_headers["Cookie"] = f"auth_session={cookie}"
    raw = body if isinstance(body, str) else json.dumps(body or {})
    return client.http.post(path, headers=all_headers, body=raw)


def get(client, path, cookie=None, raw_cookie=None):
    headers = {}
    if cookie:
        headers["Cookie"] = f"auth_session={cookie}"
    if raw_cookie is not None:
        headers["Cookie"] = raw_cookie
    return client.http.get(path, headers=headers)


def assert_blank_cookie(response):
    (cookie,) = set_cookies(response.headers)
    name, value, attrs = parse_set_cookie(cookie)
    assert (name, value, attrs["max-age"]) == ("auth_session", "", "0")
    assert "httponly" in attrs
    assert (attrs["samesite"], attrs["path"]) == ("Lax", "/")


def sessions_in_table(dynamodb, settings):
    return [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith("SESSION#")
    ]


# -- signup ---------------------------------------------------------------------------------


def test_signup_creates_the_user_and_signs_them_in(client, dynamodb, settings):
    response = post(client, "/auth/signup", {"email": " Ann@Example.com ", "password": PASSWORD})
    assert response.status_code == 201
    user = response.json_body["user"]
    assert user == {
        "id": user["id"],
        "email": "ann@example.com",
        "email_verified": False,
        "two_factor_enabled": False,
        "has_password": True,
        "roles": [],
    }
    assert response.headers["Cache-Control"] == "no-store"
    (cookie,) = set_cookies(response.headers)
    name, token, attrs = parse_set_cookie(cookie)
    assert name == "auth_session"
    assert len(token) == 43
    assert attrs["max-age"] == str(30 * DAY)
    assert "httponly" in attrs
    assert (attrs["samesite"], attrs["path"]) == ("Lax", "/")
    assert "secure" not in attrs  # the test settings are the `local` stage's
    pks = {i["pk"]["S"] for i in table_items(dynamodb, settings.table_name)}
    assert pks == {
        f"USER#{user['id']}",
        "EMAIL#ann@example.com",
        f"SESSION#{token_digest(token)}",
        f"SECRET#verify_email#{user['id']}",  # the verification code, as a digest
        f"THROTTLE#send-verify#{user['id']}",  # its send, counted towards the limit
        "THROTTLE#signup-email#ann@example.com",  # the sign-up, counted per address
        "THROTTLE#signup-ip#127.0.0.1",  # and per client address
    }
    assert get(client, "/auth/session", token).json_body["user"] == user


@pytest.mark.parametrize("email", ["ann@example.com", "ANN@example.com", "  ann@EXAMPLE.com "])
def test_signup_with_a_registered_email_is_409(client, email, dynamodb, settings):
    sign_up(client, verified=False)
    before = table_items(dynamodb, settings.table_name)
    response = post(client, "/auth/signup", {"email": email, "password": "other password"})
    assert response.status_code == 409
    assert response.json_body == error_body(EmailTaken)
    assert set_cookies(response.headers) == []
    # Nothing changed but the two sign-up counters: a 409 tells who has an account, so it
    # counts like any sign-up.
    after = {i["pk"]["S"]: i for i in table_items(dynamodb, settings.table_name)}
    counters = ("THROTTLE#signup-email#ann@example.com", "THROTTLE#signup-ip#127.0.0.1")
    assert [after.pop(pk)["count"] for pk in counters] == [{"N": "2"}, {"N": "2"}]
    assert list(after.values()) == [i for i in before if i["pk"]["S"] not in counters]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, InvalidEmail.code),
        ({"email": "", "password": PASSWORD}, InvalidEmail.code),
        ({"email": "a" * 10_000 + "@example.com", "password": PASSWORD}, InvalidEmail.code),
        ({"email": "ann@example.com", "password": "1234567"}, InvalidPassword.code),
        ({"email": "ann@example.com", "password": "x" * 257}, InvalidPassword.code),
        ({"email": "ann@example.com"}, "invalid_request"),
        ({"password": PASSWORD}, "invalid_request"),
        ({"email": ["ann@example.com"], "password": PASSWORD}, "invalid_request"),
        ({"email": "ann@example.com", "password": 12345678}, "invalid_request"),
        ({"email": None, "password": None}, "invalid_request"),
        ('{"email": "ann@example.com", "password": ', "invalid_request"),
        ("[]", "invalid_request"),
        ("null", "invalid_request"),
        ("42", "invalid_request"),
        ("", "invalid_request"),
        (json.dumps({"email": "a" * 70_000, "password": PASSWORD}), "payload_too_large"),
    ],
)
def test_bad_signup_input_is_a_4xx_in_the_error_shape_and_writes_nothing(
    client, body, code, dynamodb, settings
):
    response = post(client, "/auth/signup", body)
    assert 400 <= response.status_code < 500
    assert response.json_body["error"]["code"] == code
    assert set(response.json_body) == {"error"}
    assert set(response.json_body["error"]) == {"code", "message"}
    assert table_items(dynamodb, settings.table_name) == []


def test_deeply_nested_json_is_a_400(client):
    response = post(client, "/auth/signup", "[" * 20_000 + "]" * 20_000)
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "invalid_request"
    response = post(client, "/auth/signup", '{"a":' * 5_000 + "1" + "}" * 5_000)
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "invalid_request"


def test_non_json_content_type_is_415(client):
    response = client.http.post(
        "/auth/signup",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="email=ann%40example.com&password=correct+horse",
    )
    assert response.status_code == 415
    assert response.json_body["error"]["code"] == "unsupported_media_type"


def test_invalid_utf8_is_a_400(client):
    response = client.http.post("/auth/signup", headers=JSON, body=b'{"email": "\xff"}')
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "invalid_request"


def test_any_unicode_password_works(client):
    sign_up(client, password="пароль 🔑 密码", verified=False)
    response = post(
        client, "/auth/login", {"email": "ann@example.com", "password": "пароль 🔑 密码"}
    )
    assert response.status_code == 200


def test_signup_while_signed_in_ends_the_old_session(client, dynamodb, settings):
    old = sign_up(client, "ann@example.com", verified=False)
    new = sign_up(
        client, "bob@example.com", verified=False, headers={"Cookie": f"auth_session={old}"}
    )
    assert get(client, "/auth/session", old).status_code == 401
    assert get(client, "/auth/session", new).json_body["user"]["email"] == "bob@example.com"
    assert len(sessions_in_table(dynamodb, settings)) == 1


# -- login ----------------------------------------------------------------------------------


def test_login_creates_a_new_session_each_time(client, dynamodb, settings):
    signup_token = sign_up(client, verified=False)
    response = post(client, "/auth/login", {"email": "ANN@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json_body["user"]["email"] == "ann@example.com"
    assert response.headers["Cache-Control"] == "no-store"
    token = session_token(response)
    assert token != signup_token
    assert get(client, "/auth/session", token).status_code == 200
    assert get(client, "/auth/session", signup_token).status_code == 200  # another device
    assert len(sessions_in_table(dynamodb, settings)) == 2


def test_login_while_signed_in_replaces_the_session(client, dynamodb, settings):
    old = sign_up(client, verified=False)
    response = post(client, "/auth/login", {"email": "ann@example.com", "password": PASSWORD}, old)
    new = session_token(response)
    assert new != old
    assert get(client, "/auth/session", old).status_code == 401
    assert get(client, "/auth/session", new).status_code == 200
    (item,) = sessions_in_table(dynamodb, settings)
    assert item["pk"]["S"] == f"SESSION#{token_digest(new)}"


def test_unknown_email_and_wrong_password_get_the_identical_401(client):
    sign_up(client, verified=False)
    wrong = post(client, "/auth/login", {"email": "ann@example.com", "password": "wrong password"})
    unknown = post(client, "/auth/login", {"email": "bob@example.com", "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json_body == error_body(InvalidCredentials)
        assert set_cookies(response.headers) == []
    assert wrong.body == unknown.body


def test_failed_login_keeps_the_current_session(client):
    token = sign_up(client, verified=False)
    post(client, "/auth/login", {"email": "ann@example.com", "password": "wrong password"}, token)
    assert get(client, "/auth/session", token).status_code == 200


# -- session and protected resource -----------------------------------------------------------


def test_session_reports_user_and_expiry(client):
    token = sign_up(client, verified=False)
    response = get(client, "/auth/session", token)
    assert response.status_code == 200
    body = response.json_body
    assert body["user"]["email"] == "ann@example.com"
    assert body["session"] == {
        "expires_at": "2027-02-14T08:00:00Z",
        "fresh": False,
        "two_factor_verified": False,
        "impersonator": None,
    }
    assert body["organization"] is None  # working in none until one is chosen
    assert set_cookies(response.headers) == []
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/auth/session", "/trainings"])
def test_without_a_cookie_the_answer_is_401_and_no_cookie(client, path, calls):
    calls.clear()
    response = get(client, path)
    assert response.status_code == 401
    assert response.json_body == error_body(Unauthenticated)
    assert set_cookies(response.headers) == []
    assert calls.operations == []


@pytest.mark.parametrize("path", ["/auth/session", "/trainings"])
@pytest.mark.parametrize("token", ["A" * 43, "garbage", ""])
def test_an_unknown_cookie_is_401_and_cleared(client, path, token):
    response = get(client, path, raw_cookie=f"auth_session={token}")
    assert response.status_code == 401
    assert response.json_body == error_body(Unauthenticated)
    assert_blank_cookie(response)


@pytest.mark.parametrize("path", ["/auth/session", "/trainings"])
def test_an_expired_cookie_is_401_cleared_and_its_item_deleted(
    client, path, clock, dynamodb, settings
):
    token = sign_up(client, verified=False)
    clock.advance(days=30)
    response = get(client, path, token)
    assert response.status_code == 401
    assert_blank_cookie(response)
    assert sessions_in_table(dynamodb, settings) == []


def test_trainings_are_served_to_a_signed_in_user(client, calls):
    token = sign_up(client, verified=False)
    calls.clear()
    response = get(client, "/trainings", token)
    assert response.status_code == 200
    assert response.json_body == {"trainings": list(TRAININGS)}
    assert set_cookies(response.headers) == []
    assert response.headers["Cache-Control"] == "no-store"
    assert calls.operations == ["GetItem"]  # one call per protected request, user included


def test_past_half_life_the_response_resends_the_cookie(client, clock, calls):
    token = sign_up(client, verified=False)
    clock.advance(days=20)
    calls.clear()
    response = get(client, "/auth/session", token)
    assert response.status_code == 200
    assert response.json_body["session"] == {
        "expires_at": "2027-03-06T08:00:00Z",
        "fresh": True,
        "two_factor_verified": False,
        "impersonator": None,
    }
    (cookie,) = set_cookies(response.headers)
    name, value, attrs = parse_set_cookie(cookie)
    assert (name, value, attrs["max-age"]) == ("auth_session", token, str(30 * DAY))
    assert calls.operations == ["GetItem", "UpdateItem"]
    follow_up = get(client, "/trainings", token)
    assert follow_up.status_code == 200
    assert set_cookies(follow_up.headers) == []


def test_the_cookie_is_found_among_odd_cookies(client):
    token = sign_up(client, verified=False)
    header = f'a="b; weird=[x]\\y; auth_session={token}; tracking=%7B%7D'
    assert get(client, "/trainings", raw_cookie=header).status_code == 200


# -- logout ---------------------------------------------------------------------------------


def test_logout_deletes_the_session_at_once_and_clears_the_cookie(client, dynamodb, settings):
    token = sign_up(client, verified=False)
    response = post(client, "/auth/logout", cookie=token)
    assert response.status_code == 204
    assert response.body == b""
    assert response.headers["Cache-Control"] == "no-store"
    assert_blank_cookie(response)
    assert sessions_in_table(dynamodb, settings) == []
    assert get(client, "/trainings", token).status_code == 401


@pytest.mark.parametrize("cookie", [None, "A" * 43, "garbage"])
def test_logout_without_a_valid_session_still_answers_204_with_the_blank_cookie(client, cookie):
    response = post(client, "/auth/logout", cookie=cookie)
    assert response.status_code == 204
    assert_blank_cookie(response)


def test_logout_ends_only_this_session(client):
    sign_up(client, verified=False)
    laptop = session_token(
        post(client, "/auth/login", {"email": "ann@example.com", "password": PASSWORD})
    )
    phone = session_token(
        post(client, "/auth/login", {"email": "ann@example.com", "password": PASSWORD})
    )
    post(client, "/auth/logout", cookie=laptop)
    assert get(client, "/trainings", laptop).status_code == 401
    assert get(client, "/trainings", phone).status_code == 200


# -- the edges ------------------------------------------------------------------------------


def test_wrong_method_is_405_in_the_error_shape(client):
    response = client.http.get("/auth/login")
    assert response.status_code == 405
    assert response.json_body["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "POST, OPTIONS"  # its preflight is a route too


def test_store_outage_is_503_and_keeps_the_cookie(client, dynamodb):
    from unittest import mock

    from botocore.exceptions import EndpointConnectionError

    token = sign_up(client, verified=False)
    outage = EndpointConnectionError(endpoint_url="http://dynamodb")
    with mock.patch.object(dynamodb, "get_item", side_effect=outage):
        response = get(client, "/trainings", token)
    assert response.status_code == 503
    assert response.json_body["error"]["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "1"
    assert set_cookies(response.headers) == []
    assert get(client, "/trainings", token).status_code == 200


def test_session_expiry_is_reported_in_utc():
    from chalicelib.clock import isoformat

    assert isoformat(START) == "2027-01-15T08:00:00Z"
