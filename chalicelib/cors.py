"""CORS with credentials for the single-page apps of CORS_ORIGINS (never `*`, which browsers
refuse with credentials anyway), on the JSON routes only: pages are not an API.

A listed origin gets, on every response (errors and 429s included, so the app can read them):
the origin itself in Access-Control-Allow-Origin, Allow-Credentials, and the response headers
an app needs (Retry-After, X-Session-Token). Every JSON route answers its preflight itself:
API Gateway's generated CORS (a mock integration) can only echo one fixed origin.
"""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.config import Settings
from chalicelib.transports import (
    PASSKEY_ATTEMPT_HEADER,
    SESSION_TOKEN_HEADER,
    SIGNUP_ATTEMPT_HEADER,
    TRANSPORT_HEADER,
)

EXPOSED = f"Retry-After, {SESSION_TOKEN_HEADER}"
ALLOWED_HEADERS = ", ".join(
    [
        "Content-Type",
        "Authorization",
        TRANSPORT_HEADER,
        PASSKEY_ATTEMPT_HEADER,
        SIGNUP_ATTEMPT_HEADER,
    ]
)
MAX_AGE_SECONDS = 600


class Cors:
    def __init__(self, settings: Settings) -> None:
        self._origins = frozenset(settings.cors_origins)

    def headers(self, origin: str | None) -> dict[str, str]:
        """The CORS headers of a JSON route's response to a request from `origin`."""
        if not self._origins:
            return {}
        # Vary whatever the origin: a cache must not give one origin's answer to another.
        if origin not in self._origins:
            return {"Vary": "Origin"}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Expose-Headers": EXPOSED,
            "Vary": "Origin",
        }

    def preflight(self, origin: str | None, methods: Iterable[str]) -> dict[str, str]:
        """A preflight's own headers (with `headers(origin)`); none for an unlisted origin, so
        the browser refuses the request it asked about."""
        if origin not in self._origins:
            return {}
        return {
            "Access-Control-Allow-Methods": ", ".join(methods),
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
        }
