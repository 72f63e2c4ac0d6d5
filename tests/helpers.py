"""Reading responses the way a browser would."""

from __future__ import annotations

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
