"""What the suites share: the test password and addresses, the one way to sign up (on moto
through Chalice's test client, or over HTTP against the live server), and reading responses
and mail the way a browser and a person would."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from chalicelib.errors import AppError
from devtools.outbox import Mail, Mailbox, parse

PASSWORD = "correct horse battery"
NEW_PASSWORD = "another fine passphrase"
ANN = "ann@example.com"
BOB = "bob@example.com"


def set_cookies(headers: Mapping[str, Any]) -> list[str]:
    value = next((v for k, v in headers.items() if k.lower() == "set-cookie"), [])
    return value if isinstance(value, list) else [value]


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    first, *rest = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    attrs = {}
    for part in rest:
        key, _, val = part.partition("=")
        attrs[key.lower()] = val
    return name, value, attrs


def error_body(error: type[AppError]) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": error.message}}


def call(
    client: Any,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """A JSON request through Chalice's test client, with the session cookie if given."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Cookie"] = f"auth_session={token}"
    raw = json.dumps(body) if body is not None else ""
    return client.http.request(method, path, headers=all_headers, body=raw.encode())


def cookie_named(response: Any, wanted: str) -> tuple[str, dict[str, str]]:
    """The value and attributes of the one cookie named `wanted` the response sets."""
    (found,) = [
        (value, attrs)
        for name, value, attrs in map(parse_set_cookie, set_cookies(response.headers))
        if name == wanted
    ]
    return found


def session_token(response: Any) -> str:
    """The token of the session cookie the response sets (beside it: a device cookie, say)."""
    value, attrs = cookie_named(response, "auth_session")
    assert value
    assert int(attrs["max-age"]) > 0
    return value


def assert_error(response: Any, status: int, code: str) -> None:
    """A response in the error shape, with this status and code (Chalice's test client)."""
    assert response.status_code == status, response.body
    assert response.json_body["error"]["code"] == code


class SesMailbox(Mailbox):
    """What moto's SES has sent."""

    def messages(self) -> list[Mail]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        return [parse(message.raw_data.encode()) for message in sent]


def sign_up(
    client: Any,
    email: str = ANN,
    *,
    password: str = PASSWORD,
    verified: bool = True,
    headers: dict[str, str] | None = None,
) -> str:
    """A new account through `POST /auth/signup` on moto, its address verified with the
    mailed code unless `verified=False`; the session cookie's token."""
    body = {"email": email, "password": password}
    response = call(client, "POST", "/auth/signup", body, headers=headers)
    assert response.status_code == 201, response.body
    token = session_token(response)
    if not verified:
        return token
    code = SesMailbox().code(email)
    response = call(client, "POST", "/auth/email/verify", {"code": code}, token, headers)
    assert response.status_code == 200, response.body
    return session_token(response)


def log_in(
    client: Any, email: str = ANN, password: str = PASSWORD, headers: dict[str, str] | None = None
) -> Any:
    """`POST /auth/login` on moto: the response."""
    body = {"email": email, "password": password}
    return call(client, "POST", "/auth/login", body, headers=headers)


def sign_up_with_code(client: Any, email: str = "new@example.com") -> str:
    """A new account with no password, made by an emailed code (on moto); its session."""
    assert call(client, "POST", "/auth/login/code", {"email": email}).status_code == 202
    body = {"email": email, "code": SesMailbox().code(email)}
    response = call(client, "POST", "/auth/login/code/verify", body)
    assert response.status_code == 201, response.body
    return session_token(response)


class Browser(requests.Session):
    """A cookie-keeping HTTP client whose every request has a timeout, so nothing hangs CI."""

    def request(self, method: str | bytes, url: str | bytes, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", 60)
        return super().request(method, url, **kwargs)


def sign_up_over_http(
    live_server: Any,
    email: str = ANN,
    *,
    password: str = PASSWORD,
    verified: bool = True,
    browser: Browser | None = None,
) -> Browser:
    """The same over HTTP, against the live server (its outbox has the code); the browser,
    holding the session cookie."""
    browser = browser or Browser()
    url = live_server.url
    response = browser.post(f"{url}/auth/signup", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    if verified:
        code = live_server.outbox.code(email)
        response = browser.post(f"{url}/auth/email/verify", json={"code": code})
        assert response.status_code == 200, response.text
    return browser


class MotoStream:
    """The moto table's DynamoDB Stream, in Lambda's shape, as the consumer is fed it: each
    call of `records()` returns what was written since the last. moto stamps records with the
    real time; `clock` (the tests' fake one) stamps them instead."""

    def __init__(self, table: str, clock: Any = None) -> None:
        self.table = table
        self.clock = clock
        self._seen = 0

    def records(self) -> list[dict[str, Any]]:
        import copy

        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        from devtools.streams import lambda_record

        shard = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[self.table].stream_shard
        new = shard.items[self._seen :]
        self._seen += len(new)
        shaped = [lambda_record(copy.deepcopy(item.record), "arn:moto") for item in new]
        if self.clock is not None:
            for record in shaped:
                record["dynamodb"]["ApproximateCreationDateTime"] = self.clock.now()
        return shaped

    def consume(self, services: Any) -> None:
        """Feed what arrived to the consumer, as one batch that must succeed."""
        from chalicelib.events.consumer import consume

        assert consume(services, self.records()) == {"batchItemFailures": []}


class WebhookReceiver:
    """A webhook receiver on 127.0.0.1 that keeps every request and answers `status`."""

    def __init__(self) -> None:
        self.status = 204
        self.requests: list[tuple[int, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append((receiver.status, headers, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[dict[str, Any]]:
        return [json.loads(body) for status, _, body in self.requests if status < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
