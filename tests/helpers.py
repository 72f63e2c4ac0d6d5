"""Reading responses the way a browser would."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import AppError


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


def session_token(response: Any) -> str:
    """The token of the one session cookie the response sets."""
    (cookie,) = set_cookies(response.headers)
    name, value, attrs = parse_set_cookie(cookie)
    assert name == "auth_session"
    assert value
    assert int(attrs["max-age"]) > 0
    return value
