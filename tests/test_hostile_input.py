"""Hostile input: whatever arrives, the answer is a 4xx in the one error shape, never a 500,
and nothing is written."""

import json

import pytest

from tests.conftest import table_items
from tests.helpers import PASSWORD, sign_up

JSON = "application/json"


def post(client, path, body: bytes | str, content_type=JSON, cookie=None):
    headers = {"Content-Type": content_type} if content_type else {}
    if cookie is not None:
        headers["Cookie"] = cookie
    raw = body.encode() if isinstance(body, str) else body
    return client.http.post(path, headers=headers, body=raw)


def assert_error_shape(response, status=None):
    assert 400 <= response.status_code < 500, response.body
    if status is not None:
        assert response.status_code == status
    body = response.json_body
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]


def credentials(email="ann@example.com", password=PASSWORD) -> str:
    return json.dumps({"email": email, "password": password})


# Expected status: one for both routes, or (sign-up, login). A login never says what is wrong
# with the email or password it was given, only that they do not match an account.
BODIES = {
    "over 64 KiB": (credentials(password="x" * 70_000), 413),
    "exactly one byte over": ('{"a":"' + "x" * (64 * 1024 - 7) + '"}', 413),
    "invalid UTF-8": (b'{"email": "\xc3\x28", "password": "correct horse"}', 400),
    "UTF-16": (credentials().encode("utf-16"), 400),
    "NUL in the email": (credentials(email="ann\x00@example.com"), (400, 401)),
    "control characters in the email": (credentials(email="ann\x1b[2J@example.com"), (400, 401)),
    "NUL in the password": (credentials(password="correct\x00horse"), (400, 401)),
    "raw NUL outside strings": (b'{"email": "a@b.co",\x00 "password": "x"}', 400),
    "a JSON array": ("[]", 400),
    "a JSON number": ("12345", 400),
    "JSON null": ("null", 400),
    "a JSON string": ('"ann@example.com"', 400),
    "deeply nested arrays": ("[" * 50_000 + "]" * 50_000, 413),
    "deeply nested objects": ('{"a":' * 3_000 + "1" + "}" * 3_000, 400),
    "email as a number": ('{"email": 1, "password": "a long passphrase"}', 400),
    "email as an object": ('{"email": {"$ne": null}, "password": "a long passphrase"}', 400),
    "password as a list": ('{"email": "ann@example.com", "password": ["a"]}', 400),
    "a 10 KB email": (credentials(email="a" * 10_000 + "@example.com"), (400, 401)),
    "a 10 KB domain": (credentials(email="ann@" + "a" * 10_000 + ".com"), (400, 401)),
    "NaN": ('{"email": NaN, "password": "a long passphrase"}', 400),
    "truncated": ('{"email": "ann@example.com", "pass', 400),
    "empty": ("", 400),
    "a BOM": ("\ufeff" + credentials(), 400),
}


@pytest.mark.parametrize("path", ["/auth/signup", "/auth/login"])
@pytest.mark.parametrize("case", list(BODIES))
def test_hostile_bodies_get_a_4xx_in_the_error_shape(client, dynamodb, settings, path, case):
    body, status = BODIES[case]
    if isinstance(status, tuple):
        status = status[0] if path == "/auth/signup" else status[1]
    response = post(client, path, body)
    assert_error_shape(response, status)
    assert [
        i for i in table_items(dynamodb, settings.table_name) if "THROTTLE" not in i["pk"]["S"]
    ] == []


# The routes of sign-in by code and re-authentication take the same hostile bodies, and their
# own fields' worst. Some of these bodies are fine requests there (a valid address asks for a
# code; the right password re-authenticates): those must succeed. Whatever else comes is a 4xx
# in the error shape, and writes nothing but counters.
CODE_ROUTES = ["/auth/login/code", "/auth/login/code/verify", "/auth/reauthenticate"]
CODE_BODIES = {
    **{case: body for case, (body, _) in BODIES.items()},
    "code as a number": '{"email": "ann@example.com", "code": 12345678}',
    "code as a list": '{"email": "ann@example.com", "code": ["AAAAAAAA"]}',
    "a 10 KB code": json.dumps({"email": "ann@example.com", "code": "A" * 10_000}),
    "NUL in the code": json.dumps({"email": "ann@example.com", "code": "AAAA\x00AAA"}),
    "control characters in the code": json.dumps({"email": "a@b.co", "code": "\x1b[2J"}),
    "code and password both": json.dumps({"code": "AAAAAAAA", "password": PASSWORD}),
    "neither": "{}",
}


@pytest.mark.parametrize("path", CODE_ROUTES)
@pytest.mark.parametrize("case", list(CODE_BODIES))
def test_hostile_bodies_on_the_code_routes_never_get_a_5xx(client, dynamodb, settings, path, case):
    token = sign_up(client, verified=False)

    def stored() -> list[dict]:
        return [
            i for i in table_items(dynamodb, settings.table_name) if "THROTTLE" not in i["pk"]["S"]
        ]

    before = stored()
    response = post(client, path, CODE_BODIES[case], cookie=f"auth_session={token}")
    if response.status_code < 400:
        assert response.status_code in (200, 202), response.body
        return
    assert_error_shape(response)
    assert stored() == before


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/jsonx", "application/xml"],
)  # fmt: skip
def test_a_wrong_content_type_is_415(client, content_type):
    response = post(client, "/auth/signup", credentials(), content_type=content_type)
    assert_error_shape(response, 415)


def get_trainings(client, cookie_header):
    return client.http.get("/trainings", headers={"Cookie": cookie_header})


@pytest.mark.parametrize(
    "cookie_header",
    [
        "auth_session=" + "A" * 8_000,  # overlong
        "auth_session=" + "é" * 43,
        "auth_session=%41%41%41",
        "auth_session=" + "A" * 42 + "\x00",
        "auth_session=garbage; auth_session=" + "B" * 43,  # duplicated: the first one counts
        "; ".join(f"c{i}=v{i}" for i in range(500)) + "; auth_session=" + "C" * 43,
        'auth_session="' + "D" * 43,
        "auth_session",
        "=auth_session=x",
        ";;;;;",
    ],
)
def test_hostile_cookies_get_401_in_the_error_shape(client, cookie_header):
    sign_up(client, verified=False)
    response = get_trainings(client, cookie_header)
    assert_error_shape(response, 401)
    assert response.json_body["error"]["code"] == "unauthenticated"


def test_a_valid_cookie_is_found_among_hundreds(client):
    token = sign_up(client, verified=False)
    crowd = "; ".join(f"tracker{i}=%7B%22v%22%3A{i}%7D" for i in range(300))
    assert get_trainings(client, f"{crowd}; auth_session={token}; after=1").status_code == 200
    assert get_trainings(client, f"auth_session={token}; auth_session=second").status_code == 200


# -- strings JSON allows but UTF-8 cannot encode ----------------------------------------------


def json_routes() -> list[tuple[str, str, list[str]]]:
    """(method, path, fields) of every route the OpenAPI document gives a JSON body."""
    from chalicelib.openapi import DOCUMENT

    document = json.loads(DOCUMENT.read_text())
    schemas = document["components"]["schemas"]
    routes = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if JSON in content:
                name = content[JSON]["schema"]["$ref"].rsplit("/", 1)[-1]
                routes.append((method.upper(), path, list(schemas[name]["properties"])))
    return routes


JSON_ROUTES = json_routes()
# Lone high and low surrogates, at the start, middle and end, and a pair in the wrong order.
SURROGATES = ["\ud800", "abc\udfffdef", "correct horse battery\udbff", "\udc00\ud800"]


def surrogate_bodies(fields: list[str]) -> dict[str, dict]:
    valid = {name: "ann@example.com" if "email" in name else PASSWORD for name in fields}
    bodies = {
        f"{field}={text!r}": {**valid, field: text} for field in fields for text in SURROGATES
    }
    bodies["nested in an extra field"] = {**valid, "extra": [{"deeper": ["ok", "\udead"]}]}
    bodies["in a key"] = {**valid, "\ud83d": "x"}
    return bodies


def test_every_json_route_is_covered():
    assert {(method, path) for method, path, _ in JSON_ROUTES} >= {
        ("POST", "/auth/signup"),
        ("POST", "/auth/login"),
        ("POST", "/auth/password"),
        ("DELETE", "/auth/account"),
    }


@pytest.mark.parametrize(("method", "path", "fields"), JSON_ROUTES)
def test_lone_surrogates_anywhere_are_400_before_any_store_call(
    client, calls, dynamodb, settings, method, path, fields
):
    token = sign_up(client, verified=False)
    before = table_items(dynamodb, settings.table_name)
    for case, body in surrogate_bodies(fields).items():
        raw = json.dumps(body)  # ensure_ascii: the surrogates travel as \ud800-style escapes
        assert "\\ud" in raw
        calls.clear()
        response = client.http.request(
            method,
            path,
            headers={"Content-Type": JSON, "Cookie": f"auth_session={token}"},
            body=raw.encode(),
        )
        assert_error_shape(response, 400)
        assert response.json_body["error"]["code"] == "invalid_request", case
        assert calls.operations == [], case
    assert table_items(dynamodb, settings.table_name) == before


def test_a_valid_surrogate_pair_is_an_ordinary_character(client):
    body = json.dumps({"email": "ann@example.com", "password": "correct horse \U0001f40e"})
    assert "\\ud83d\\udc0e" in body
    assert post(client, "/auth/signup", body).status_code == 201


# -- malformed passkey credentials --------------------------------------------------------------


def b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


MALFORMED_CREDENTIALS = {
    "a string": "not an object",
    "a list": ["credential"],
    "empty": {},
    "wrong types": {"id": 1, "rawId": [], "type": None, "response": "x"},
    "bad base64url": {
        "id": "!!",
        "rawId": "!!",
        "type": "public-key",
        "response": {"clientDataJSON": "***", "authenticatorData": "%%", "signature": "^^"},
    },
    "client data not JSON": {
        "id": "AAAA",
        "rawId": "AAAAAAAAAAAAAAAAAAAAAA",
        "type": "public-key",
        "response": {
            "clientDataJSON": b64url(b"\xff\xfe"),
            "authenticatorData": "AAAA",
            "signature": "AAAA",
        },
    },
    "client data without a challenge": {
        "id": "AAAA",
        "rawId": "AAAAAAAAAAAAAAAAAAAAAA",
        "type": "public-key",
        "response": {"clientDataJSON": b64url(b'{"type": "webauthn.get"}')},
    },
    "a huge credential id": {"rawId": "A" * 60_000, "response": {}},
}


@pytest.mark.parametrize("case", list(MALFORMED_CREDENTIALS))
def test_malformed_passkey_credentials_are_4xx_never_5xx(client, case):
    token = sign_up(client, verified=False)
    credential = MALFORMED_CREDENTIALS[case]
    for path, body, cookie in [
        ("/auth/passkeys/login", {"credential": credential}, None),
        ("/auth/passkeys/register", {"credential": credential, "name": "x"}, token),
        ("/auth/2fa/passkey", {"credential": credential}, token),
        (
            "/auth/password-reset/confirm",
            {
                "token": "0" * 36 + "." + "A" * 43,
                "new_password": PASSWORD,
                "credential": credential,
            },
            None,
        ),
    ]:
        headers = {"Content-Type": JSON}
        if cookie:
            headers["Cookie"] = f"auth_session={cookie}"
        response = client.http.post(path, headers=headers, body=json.dumps(body).encode())
        assert_error_shape(response)


HOSTILE_HEADERS = {
    "Basic credentials": {"Authorization": "Basic YW5uOmNvcnJlY3QgaG9yc2U="},
    "a scheme alone": {"Authorization": "Bearer"},
    "a lower-case scheme": {"Authorization": "bearer " + "A" * 43},
    "two tokens": {"Authorization": "Bearer " + "A" * 43 + " " + "B" * 43},
    "a 10 KB header": {"Authorization": "Bearer " + "A" * 10_240},
    "a 10 KB odd scheme": {"Authorization": "X" * 10_240},
    "non-ASCII": {"Authorization": "Bearer " + "é" * 43},
    "a NUL": {"Authorization": "Bearer " + "A" * 42 + "\x00"},
    "a JWT for a session": {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
    "an Origin of null": {"Origin": "null"},
    "an Origin with a path": {"Origin": "http://localhost:8000/login"},
    "an Origin with userinfo": {"Origin": "http://evil@localhost:8000"},
    "another transport": {"X-Session-Transport": "jwt"},
    "a 10 KB transport": {"X-Session-Transport": "t" * 10_240},
    "a transport and odd scheme": {"X-Session-Transport": "token", "Authorization": "Negotiate x"},
    "a 10 KB passkey attempt": {"X-Session-Transport": "token", "X-Passkey-Attempt": "a" * 10_240},
    "a 10 KB sign-up attempt": {"X-Session-Transport": "token", "X-Signup-Attempt": "a" * 10_240},
}
HEADER_TARGETS = [
    ("GET", "/trainings"),
    ("GET", "/auth/session"),
    ("POST", "/auth/login"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/passkeys/login"),
    ("POST", "/auth/login/code/verify"),
    ("OPTIONS", "/auth/login"),
    ("POST", "/auth/token"),
    ("GET", "/whoami"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/settings"),
    ("POST", "/login"),
]


@pytest.mark.parametrize(("method", "path"), HEADER_TARGETS)
@pytest.mark.parametrize("case", list(HOSTILE_HEADERS))
def test_hostile_auth_headers_get_a_4xx_or_are_ignored(client, method, path, case):
    """Authorization, Origin and X-Session-Transport as an attacker writes them: a 4xx in the
    error shape (pages: their own answer), or ignored; never a 5xx."""
    token = sign_up(client, verified=False)
    content_type = "application/x-www-form-urlencoded" if path == "/login" else JSON
    body = f"email=ann%40example.com&password={PASSWORD}" if path == "/login" else credentials()
    headers = {"Content-Type": content_type, "Cookie": f"auth_session={token}"}
    headers.update(HOSTILE_HEADERS[case])
    response = client.http.request(method, path, headers=headers, body=body.encode())
    assert response.status_code < 500, response.body
    if response.status_code >= 400 and not path.startswith(("/settings", "/login")):
        assert_error_shape(response)


# -- access tokens -----------------------------------------------------------------------------

TOKEN_BODIES = {
    "audience as a list": '{"audience": ["api"]}',
    "audience as an object": '{"audience": {"$ne": null}}',
    "audience as true": '{"audience": true}',
    "a 10 KB audience": json.dumps({"audience": "a" * 10_240}),
    "a NUL after the audience": json.dumps({"audience": "api\x00"}),
    "the audience with a space": '{"audience": "api "}',
    "the audience in another case": '{"audience": "API"}',
    "a JSON array": "[]",
    "JSON null": "null",
    "truncated": '{"audience": "ap',
}


@pytest.mark.parametrize("case", list(TOKEN_BODIES))
def test_hostile_token_requests_get_400_and_no_token(client, calls, audit, case):
    cookie = f"auth_session={sign_up(client, verified=False)}"
    calls.clear()
    response = post(client, "/auth/token", TOKEN_BODIES[case], cookie=cookie)
    assert_error_shape(response, 400)
    assert response.json_body["error"]["code"] == "invalid_request"
    assert "access_token_issued" not in audit.events
    assert calls.writes == []


def test_an_access_token_is_no_session_token(client):
    """A JWT presented where a session is expected is a rejected bearer token, not a 500."""
    cookie = f"auth_session={sign_up(client, verified=False)}"
    issued = post(client, "/auth/token", "", cookie=cookie)
    assert issued.status_code == 200, issued.body
    access_token = issued.json_body["access_token"]
    for path in ("/auth/session", "/trainings"):
        response = client.http.get(path, headers={"Authorization": f"Bearer {access_token}"})
        assert_error_shape(response, 401)
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
