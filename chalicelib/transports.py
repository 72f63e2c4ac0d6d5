"""How a session travels between client and service: the one place that reads credentials
from a request and writes them into a response.

- The cookie transport (browsers, and every page): the HttpOnly session cookie, plus the
  short-lived cookies that bind a passkey or social sign-in, or a quiet sign-up's chosen
  password, to the browser that began it, and the device cookie of a browser that gave an
  account's right password (chalicelib.throttle).
- The token transport (native apps, and single-page apps that prefer it): a request carrying
  `Authorization: Bearer <token>`, or a sign-in sent with `X-Session-Transport: token`. The
  cookie is then ignored and none is ever set; a session started or rotated comes back as
  `session_token` in the JSON body and in the `X-Session-Token` header, and a passkey
  sign-in's attempt binding as `passkey_attempt` in the options body, returned in the
  `X-Passkey-Attempt` header (a quiet sign-up's likewise: `signup_attempt`, returned in
  `X-Signup-Attempt`). A sign-in on the token transport from a client that also holds
  a session cookie ends that cookie's session too, and blanks the cookie.

Both are the same server-side session (one GetItem to validate, sliding expiry, the absolute
cap, instant revocation); only the envelope differs. Flows never see either: they read the
presented values from their RequestContext and leave what to send back in its `Reply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.config import Settings
from chalicelib.cookies import SessionCookies
from chalicelib.errors import InvalidRequest

if TYPE_CHECKING:
    from chalice import Response

TRANSPORT_HEADER = "X-Session-Transport"
# Names, not secrets:
SESSION_TOKEN_HEADER = "X-Session-Token"  # noqa: S105
PASSKEY_ATTEMPT_HEADER = "X-Passkey-Attempt"
SIGNUP_ATTEMPT_HEADER = "X-Signup-Attempt"
SESSION_TOKEN_FIELD = "session_token"  # noqa: S105
PASSKEY_ATTEMPT_FIELD = "passkey_attempt"
SIGNUP_ATTEMPT_FIELD = "signup_attempt"


class Transport(Enum):
    COOKIE = "cookie"
    TOKEN = "token"  # noqa: S105


class Handout(NamedTuple):
    """A value the response hands to the client (a session token, an attempt binding)."""

    value: str  # "": take back the one the client holds (a blank cookie)
    expires_at: int


CLEARED = Handout("", 0)


@dataclass
class Reply:
    """What the response must carry, whatever the transport."""

    session: Handout | None = None
    new_session: bool = False  # started or rotated: a token client must learn the new token
    passkey_attempt: Handout | None = None
    oauth_attempt: Handout | None = None
    signup_attempt: Handout | None = None
    device: Handout | None = None
    rejected: bool = False  # the client presented a session that is not (or no longer) valid
    held_cookie_ended: bool = False  # a token sign-in ended the cookie session it also held


class Presented(NamedTuple):
    """What the client sent, read once at the edge."""

    transport: Transport
    token: str | None
    passkey_attempt: str | None
    oauth_attempt: str | None
    bearer: bool  # in `Authorization`: no ambient credential, so no cross-origin check
    held_cookie: str | None = None  # a token client's session cookie, which a sign-in ends
    device: str | None = None  # the device cookie (the cookie transport only)
    signup_attempt: str | None = None  # the quiet sign-up this client began


class Transports:
    """The two transports, and the cookies the cookie transport carries, all built from the
    stage's settings: the session cookie, the short-lived cookies that bind a passkey or social
    sign-in or a quiet sign-up to the browser that began it, and a known browser's device
    cookie."""

    def __init__(self, settings: Settings) -> None:
        self.session = SessionCookies(settings)
        self.passkey_attempt = SessionCookies(settings, "passkey_attempt")
        self.oauth_attempt = SessionCookies(settings, "oauth_attempt")
        self.signup_attempt = SessionCookies(settings, "signup_attempt")
        self.device = SessionCookies(settings, "device")

    def read(self, headers: Mapping[str, str], *, page: bool) -> Presented:
        """The transport and credentials of a request. Pages always use the cookie transport
        and ignore `Authorization` and `X-Session-Transport`; other schemes than Bearer are
        ignored too (they are some proxy's, not ours). An `X-Session-Transport` other than
        `token` or `cookie` is a 400: a typo would otherwise answer with a cookie the app
        never sees."""
        cookie = headers.get("cookie")
        if not page:
            bearer = _bearer_token(headers.get("authorization"))
            asked = headers.get(TRANSPORT_HEADER, "").strip().lower()
            if asked not in ("", Transport.COOKIE.value, Transport.TOKEN.value):
                raise InvalidRequest(f"The {TRANSPORT_HEADER} header is 'token' or 'cookie'.")
            if bearer is not None or asked == Transport.TOKEN.value:
                attempt = headers.get(PASSKEY_ATTEMPT_HEADER) or None
                held = self.session.read(cookie)
                return Presented(
                    Transport.TOKEN,
                    bearer,
                    attempt,
                    None,
                    bearer is not None,
                    held,
                    signup_attempt=headers.get(SIGNUP_ATTEMPT_HEADER) or None,
                )
        return Presented(
            Transport.COOKIE,
            self.session.read(cookie),
            self.passkey_attempt.read(cookie),
            self.oauth_attempt.read(cookie),
            False,
            device=self.device.read(cookie),
            signup_attempt=self.signup_attempt.read(cookie),
        )

    def render(
        self, presented: Presented, reply: Reply, response: Response, *, page: bool, now: int
    ) -> None:
        """Write `reply` into `response` the way the request's transport carries it."""
        if presented.transport is Transport.COOKIE:
            _add_cookies(response, self._cookies(reply, now))
        else:
            _hand_tokens(reply, response)
            if reply.held_cookie_ended:
                _add_cookies(response, [self.session.blank_cookie()])
        if response.status_code == 401 and not page:
            # RFC 9110 requires a challenge on every 401; RFC 6750's error tells a token
            # client that its token, not its request, is what failed.
            challenge = "Bearer"
            if presented.bearer and reply.rejected:
                challenge = 'Bearer error="invalid_token"'
            response.headers["WWW-Authenticate"] = challenge

    def _cookies(self, reply: Reply, now: int) -> list[str]:
        cookies = []
        for handout, jar in (
            (reply.session, self.session),
            (reply.passkey_attempt, self.passkey_attempt),
            (reply.oauth_attempt, self.oauth_attempt),
            (reply.signup_attempt, self.signup_attempt),
            (reply.device, self.device),
        ):
            if handout is None:
                continue
            if handout.value:
                cookies.append(jar.session_cookie(handout.value, handout.expires_at, now))
            else:
                cookies.append(jar.blank_cookie())
        return cookies


def _bearer_token(authorization: str | None) -> str | None:
    """The credential of `Authorization: Bearer <token>` (the scheme is case-insensitive,
    RFC 9110 11.1), "" for a Bearer header without one, None for no header or another scheme.
    Its shape is checked where it is used: a malformed token costs no read."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else None


def _add_cookies(response: Response, cookies: list[str]) -> None:
    if cookies:
        existing = response.headers.get("Set-Cookie", [])
        # A list value makes Chalice emit multiValueHeaders, so every cookie survives.
        response.headers["Set-Cookie"] = [
            *(existing if isinstance(existing, list) else [existing]),
            *cookies,
        ]


def _hand_tokens(reply: Reply, response: Response) -> None:
    fields: dict[str, Any] = {}
    if reply.new_session and reply.session is not None and reply.session.value:
        fields[SESSION_TOKEN_FIELD] = reply.session.value
        response.headers[SESSION_TOKEN_HEADER] = reply.session.value
    if reply.passkey_attempt is not None and reply.passkey_attempt.value:
        fields[PASSKEY_ATTEMPT_FIELD] = reply.passkey_attempt.value
    if reply.signup_attempt is not None and reply.signup_attempt.value:
        fields[SIGNUP_ATTEMPT_FIELD] = reply.signup_attempt.value
    if not fields:
        return
    if isinstance(response.body, dict):
        response.body = {**response.body, **fields}
    elif response.status_code == 204:
        # A 204 that rotated the session (a passkey or two-factor removal) still owes the
        # client its new token: a body needs a status that may have one.
        response.body, response.status_code = fields, 200
