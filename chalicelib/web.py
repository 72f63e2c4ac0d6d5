"""The HTTP edge: one middleware for sessions, cookies, cache headers and errors.

Protecting a route is one decorator, `@login_required`; the middleware then sends whatever
cookie the request's session outcome calls for (the seed app's `verifyAuth`):

| request cookie             | outcome           | Set-Cookie              |
|----------------------------|-------------------|-------------------------|
| none                       | unauthenticated   | none                    |
| invalid or expired         | unauthenticated   | blank cookie            |
| valid, extended (`fresh`)  | authenticated     | cookie with new Max-Age |
| valid                      | authenticated     | none                    |

This is deliberately not a Chalice authorizer: `chalice local` ignores Cookie headers there,
an authorizer cannot set cookies, and API Gateway caches its answer (300 s by default), which
would keep a logged-out cookie working.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib import runtime
from chalicelib.errors import (
    AppError,
    InvalidRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    Unauthenticated,
    UnsupportedMediaType,
)
from chalicelib.sessions import Session
from chalicelib.users import User

MAX_BODY_BYTES = 64 * 1024

logger = logging.getLogger(__name__)

# Chalice answers some requests itself, in its own body shape; these get ours instead.
_CHALICE_ERRORS: dict[int, type[AppError]] = {
    400: InvalidRequest,
    405: MethodNotAllowed,
    415: UnsupportedMediaType,
}


class RequestAuth:
    """The session state of one request. Validates at most once and remembers which cookie
    the response must carry."""

    def __init__(self, services: runtime.Services, request: Request) -> None:
        self._services = services
        self._request = request
        self._token = services.cookies.read(request.headers.get("cookie"))
        self._validated = False
        self._session: Session | None = None
        self.set_cookie: str | None = None

    def session(self) -> Session | None:
        if self._validated:
            return self._session
        if self._token is not None:
            session = self._services.sessions.validate_session(self._token)
            if session is None:
                self.set_cookie = self._services.cookies.blank_cookie()
            elif session.fresh:
                self.set_cookie = self._session_cookie(self._token, session)
            self._session = session
        self._validated = True
        return self._session

    def start(self, user: User) -> Session:
        """Sign `user` in with a new session, ending the one this client held (no fixation)."""
        self._end_presented_session()
        token, session = self._services.sessions.create_session(
            user,
            user_agent=self._request.headers.get("user-agent", ""),
            ip=client_ip(self._request),
        )
        self._token, self._session, self._validated = token, session, True
        self.set_cookie = self._session_cookie(token, session)
        return session

    def end(self) -> None:
        """Destroy the presented session, if any, and clear the cookie either way."""
        self._end_presented_session()
        self._session, self._validated = None, True
        self.set_cookie = self._services.cookies.blank_cookie()

    def _end_presented_session(self) -> None:
        if self._token is not None:
            self._services.sessions.invalidate_session(self._token)
            self._token = None

    def _session_cookie(self, token: str, session: Session) -> str:
        return self._services.cookies.session_cookie(
            token, session.expires_at, self._services.clock.now()
        )


_current: ContextVar[RequestAuth] = ContextVar("request_auth")


def auth() -> RequestAuth:
    return _current.get()


def current_session() -> Session:
    session = auth().session()
    if session is None:
        raise Unauthenticated()
    return session


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def protected(*args: Any, **kwargs: Any) -> Any:
        current_session()
        return view(*args, **kwargs)

    return protected


def client_ip(request: Request) -> str:
    return str(request.context.get("identity", {}).get("sourceIp") or "")


def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 4xx that says what is wrong with it."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType()
    raw = request.raw_body
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    try:
        body = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def string_fields(body: dict[str, Any], *names: str) -> list[str]:
    values = []
    for name in names:
        value = body.get(name)
        if not isinstance(value, str):
            raise InvalidRequest(f"The field '{name}' is required and must be a string.")
        values.append(value)
    return values


def error_response(error: AppError) -> Response:
    return Response(
        body={"error": {"code": error.code, "message": error.message}},
        headers=error.headers(),
        status_code=error.status,
    )


def install(app: Chalice) -> None:
    """Register the one middleware every route runs through."""

    @app.middleware("http")
    def session_middleware(
        request: Request, get_response: Callable[[Request], Response]
    ) -> Response:
        try:
            request_auth = RequestAuth(runtime.get(), request)
        except AppError as error:
            return _finish(error_response(error), None)
        except Exception:
            logger.exception("could not set up request")
            return _finish(error_response(AppError()), None)
        reset = _current.set(request_auth)
        try:
            response = get_response(request)
        except AppError as error:
            response = error_response(error)
        except Exception:
            logger.exception("unhandled error")
            response = error_response(AppError())
        finally:
            _current.reset(reset)
        return _finish(response, request_auth)


def _finish(response: Response, request_auth: RequestAuth | None) -> Response:
    response = _in_our_shape(response)
    if request_auth is not None and request_auth.set_cookie is not None:
        existing = response.headers.get("Set-Cookie", [])
        cookies = existing if isinstance(existing, list) else [existing]
        # A list value makes Chalice emit multiValueHeaders, so every cookie survives.
        response.headers["Set-Cookie"] = [*cookies, request_auth.set_cookie]
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _in_our_shape(response: Response) -> Response:
    body = response.body
    if response.status_code < 400 or not (isinstance(body, dict) and "Code" in body):
        return response
    error_type = _CHALICE_ERRORS.get(response.status_code, AppError)
    shaped = error_response(error_type())
    shaped.headers = {**response.headers, **shaped.headers}
    return shaped
