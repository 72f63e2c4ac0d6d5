"""The HTTP edge: one middleware for cross-origin checks, CORS, sessions, their transport
(chalicelib.transports: the cookie or a bearer token), cache headers and errors.

Protecting a route is one decorator, `@login_required`; the middleware then sends whatever
cookie the request's session outcome calls for (the seed app's `verifyAuth`); a token client
gets the same outcomes without cookies (a rejected token: `WWW-Authenticate: Bearer
error="invalid_token"` on the 401):

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
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib import pages, runtime
from chalicelib.client_ip import source_address
from chalicelib.errors import (
    AppError,
    EmailUnverified,
    InsufficientPermissions,
    InvalidRequest,
    MethodNotAllowed,
    NoActiveOrganization,
    PayloadTooLarge,
    TwoFactorRequired,
    Unauthenticated,
    UnsupportedMediaType,
)
from chalicelib.flows.context import Access, RequestContext
from chalicelib.sessions import ActiveOrganization, Session
from chalicelib.store import request_budget
from chalicelib.users import User

MAX_BODY_BYTES = 64 * 1024
# A year, subdomains included (OWASP's HTTP headers cheat sheet); deployed stages only, whose
# API Gateway answers https alone. No `preload`: that is the operator's choice for the domain.
HSTS = "max-age=31536000; includeSubDomains"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

logger = logging.getLogger(__name__)

# Chalice answers some requests itself, in its own body shape; these get ours instead.
_CHALICE_ERRORS: dict[int, type[AppError]] = {
    400: InvalidRequest,
    405: MethodNotAllowed,
    415: UnsupportedMediaType,
}


# JSON's \ud800-style escapes can name a lone surrogate: a str that UTF-8 cannot encode, so
# hashing, logging or storing it would fail far from the edge.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class _RequestState:
    request: Request
    context: RequestContext
    body: dict[str, Any] | None = None  # the JSON body, parsed once at the edge


_current: ContextVar[_RequestState] = ContextVar("current_request")


def context() -> RequestContext:
    """The current request's context, which every flow takes."""
    return _current.get().context


def current_request() -> Request:
    return _current.get().request


def current_session() -> Session:
    """The session of a route that a decorator below protects (its access already checked)."""
    return context().require(Access.SESSION)


def current_user() -> User:
    """The signed-in user of this request (Flask-Login's `current_user`)."""
    return current_session().user


def _protect(access: Access) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def protected(*args: Any, **kwargs: Any) -> Any:
            context().require(access)
            return view(*args, **kwargs)

        return protected

    return decorator


# For API routes: 401 without a valid session, 403 two_factor_required while a second factor
# is owed, 403 email_unverified while the stage requires a verified email and it is not.
login_required = _protect(Access.RESOURCE)
# Managing the account (sessions, password, email, deletion): the email may be unverified.
account_required = _protect(Access.ACCOUNT)
# Any live session, a second factor still owed included: the routes that give it.
session_required = _protect(Access.SESSION)


def permission_required(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """For a team's own routes: `@login_required`, and the user's roles must give `permission`
    (403 insufficient_permissions). Roles travel on the session, so this reads nothing more."""
    return _require_roles(lambda roles: runtime.get().roles.grants(roles, permission))


def role_required(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """For a team's own routes: `@login_required`, and the user must hold `role` (403
    insufficient_permissions). Prefer `permission_required`: roles change, permissions stay."""
    return _require_roles(lambda roles: role in roles)


def _require_roles(
    allowed: Callable[[tuple[str, ...]], bool],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def protected(*args: Any, **kwargs: Any) -> Any:
            session = context().require(Access.RESOURCE)
            if not allowed(session.user.roles):
                raise InsufficientPermissions()
            return view(*args, **kwargs)

        return protected

    return decorator


def org_permission_required(
    permission: str,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """For a team's own routes on an organization's resources: `@login_required`, then the
    session must work in an organization (409 no_active_organization: PUT
    /auth/session/organization first) whose role there gives `permission` (403
    insufficient_permissions). The view reads which with `current_organization()`. The role
    travels on the session, kept current by every change of the membership, so this reads
    nothing more: a removal or a lowered role counts from the member's next request."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def protected(*args: Any, **kwargs: Any) -> Any:
            organization = _active_organization(context().require(Access.RESOURCE))
            if not runtime.get().org_roles.grants((organization.role,), permission):
                raise InsufficientPermissions()
            return view(*args, **kwargs)

        return protected

    return decorator


def current_organization() -> ActiveOrganization:
    """The organization the session of a route `org_permission_required` protects works in
    (`id`, and the user's `role` there): scope the route's data by its id."""
    return _active_organization(current_session())


def _active_organization(session: Session) -> ActiveOrganization:
    if session.organization is None:
        raise NoActiveOrganization()
    return session.organization


def access_token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """For a team's own routes behind our access tokens (the sample: GET /whoami). `make
    package API=http` puts API Gateway's JWT authorizer in front of them: it checks the token's
    signature, issuer, audience, lifetime and scope before the function runs, and the view
    reads what it verified with `token_claims()`, never a session. Where no authorizer ran
    (the REST API, `chalice local`) there are no claims, and the route answers 401."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        token_claims()
        return view(*args, **kwargs)

    guarded.access_token_required = True  # type: ignore[attr-defined]  # for make package
    return guarded


def token_claims() -> dict[str, Any]:
    """The claims of the access token API Gateway's JWT authorizer verified for this request
    (payload 1.0: requestContext.authorizer.claims, every value a string); 401 without."""
    authorizer = current_request().context.get("authorizer")
    claims = authorizer.get("claims") if isinstance(authorizer, dict) else None
    if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
        raise Unauthenticated("No verified access token: this route sits behind a JWT authorizer.")
    return claims


# Where a page sends a browser that lacks what it needs.
_PAGE_FOR = {
    Unauthenticated: "/login",
    TwoFactorRequired: "/2fa",
    EmailUnverified: "/verify-email",
}


def page(view: Callable[..., Any]) -> Callable[..., Any]:
    """Declares a route a page (HTML for people): the cookie transport only (`Authorization`
    and `X-Session-Transport` ignored), no CORS headers, no preflight. The one rule: a route is
    a page if and only if its view is declared one, by this or by a `*_page_required`
    decorator; every other route is the JSON API, wherever and whenever it is registered."""
    view.page = True  # type: ignore[attr-defined]
    return view


def _is_page(view: Callable[..., Any]) -> bool:
    return getattr(view, "page", False) is True


def _protect_page(access: Access) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def protected(*args: Any, **kwargs: Any) -> Any:
            state = _current.get()
            try:
                state.context.require(access)
            except (Unauthenticated, TwoFactorRequired, EmailUnverified) as missing:
                return pages.redirect(state.request, _PAGE_FOR[type(missing)])
            return view(*args, **kwargs)

        return page(protected)

    return decorator


# For pages: 303 to /login, /2fa or /verify-email instead of the API's 401 and 403 (the
# middleware adds the blank cookie when an invalid one was sent, as for API routes).
login_page_required = _protect_page(Access.RESOURCE)
account_page_required = _protect_page(Access.ACCOUNT)
session_page_required = _protect_page(Access.SESSION)


def client_ip(request: Request, header: str | None = None) -> str:
    """The client's address: API Gateway's sourceIp, or what the proxy named by
    CLIENT_IP_HEADER says (chalicelib.client_ip)."""
    peer = str(request.context.get("identity", {}).get("sourceIp") or "")
    return source_address(peer, request.headers, header)


def query_param(name: str) -> str | None:
    return (current_request().query_params or {}).get(name)


def query_limit(maximum: int) -> int | None:
    """The `limit` query parameter of a listing (None: the listing's default)."""
    text = query_param("limit")
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 3:
        raise InvalidRequest(f"limit is a whole number from 1 to {maximum}.")
    return int(text)


def json_fields(*names: str) -> list[str]:
    """The named string fields of the current request's JSON body (parsed once per request)."""
    return string_fields(_body(), *names)


def json_object_field(name: str) -> dict[str, Any]:
    """A field whose value must be a JSON object (a WebAuthn credential, say)."""
    value = _body().get(name)
    if not isinstance(value, dict):
        raise InvalidRequest(f"The field '{name}' is required and must be a JSON object.")
    return value


def json_string_list(name: str) -> list[str]:
    """A field whose value must be a JSON array of strings (at most 100 of them)."""
    value = _body().get(name)
    if (
        not isinstance(value, list)
        or len(value) > 100
        or not all(isinstance(v, str) for v in value)
    ):
        raise InvalidRequest(f"The field '{name}' is required and must be a list of strings.")
    return value


def optional_json_field(name: str) -> str | None:
    """A string field the body may leave out, or a body the request may leave out (None)."""
    body = _body(optional=True)
    if body.get(name) is None:
        return None
    (value,) = string_fields(body, name)
    return value


def nullable_json_field(name: str) -> str | None:
    """A field the body must have, whose value is a string or null (null: a choice of none,
    as `{"org_id": null}`)."""
    body = _body()
    if name not in body:
        raise InvalidRequest(f"The field '{name}' is required: a string, or null.")
    if body[name] is None:
        return None
    (value,) = string_fields(body, name)
    return value


def optional_json_object_field(name: str) -> dict[str, Any] | None:
    return None if _body(optional=True).get(name) is None else json_object_field(name)


def _body(*, optional: bool = False) -> dict[str, Any]:
    state = _current.get()
    if state.body is None:
        if optional and not state.request.raw_body:
            return {}
        state.body = json_body(state.request)
    return state.body


def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 4xx that says what is wrong with it."""
    return parse_json_object(_body_text(request, JSON), "The request body")


def parse_json_object(text: str, what: str = "The form field") -> dict[str, Any]:
    """A JSON object whose every string is encodable text, or a 400 that says what is wrong
    (a request's body, or a passkey's assertion carried in a form field)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidRequest(f"{what} is not valid JSON.") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{what} must be a JSON object.")
    _refuse_lone_surrogates(value)
    return value


def _refuse_lone_surrogates(body: dict[str, Any]) -> None:
    """Every string in the body, keys included and however deep, must be encodable text."""
    pending: list[Any] = [body]
    while pending:  # iterative: a body may nest thousands of levels deep
        value = pending.pop()
        if isinstance(value, str):
            if not value.isascii() and _LONE_SURROGATE.search(value):
                raise InvalidRequest("The request body holds an invalid Unicode escape.")
        elif isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def form_fields(request: Request, *names: str) -> list[str]:
    """Fields of an HTML form post; a missing field reads as empty, like an empty input."""
    fields = _form(request)
    return [fields.get(name, [""])[0] for name in names]


def form_values(request: Request, name: str) -> list[str]:
    """Every value of a field a form may send many times (checkboxes of one name)."""
    return _form(request).get(name, [])


def _form(request: Request) -> dict[str, list[str]]:
    try:
        return parse_qs(_body_text(request, FORM), keep_blank_values=True, max_num_fields=64)
    except ValueError:
        raise InvalidRequest("The form has too many fields.") from None


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _body_text(request: Request, media_type: str) -> str:
    if _media_type(request) != media_type:
        raise UnsupportedMediaType(f"Send the request body as {media_type}.")
    raw = request.raw_body
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    try:
        return raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InvalidRequest("The request body is not valid UTF-8.") from None


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
    """Register the one middleware every route runs through, and a preflight answer for every
    path of the JSON API. Call it last, once every route is registered: a JSON route added
    after it gets no preflight. Whether a route is a page or the JSON API is its own
    declaration (`page`), read per request."""
    api_methods = {}
    for path, entries in app.routes.items():
        marked = {method for method, entry in entries.items() if _is_page(entry.view_function)}
        if marked and marked != set(entries):
            raise RuntimeError(f"{path}: page and JSON API at once ({sorted(marked)} are pages)")
        if not marked:
            api_methods[path] = tuple(sorted(entries))

    def preflight(**_path_parameters: str) -> Response:
        request = current_request()
        methods = api_methods[request.context["resourcePath"]]
        headers = runtime.get().cors.preflight(request.headers.get("origin"), methods)
        return Response(body="", status_code=204, headers=headers)

    for path in api_methods:
        # `chalice local` and API Gateway both hand a route's own OPTIONS to the function.
        app.route(path, methods=["OPTIONS"], name="preflight")(preflight)

    @app.middleware("http")
    def session_middleware(
        request: Request, get_response: Callable[[Request], Response]
    ) -> Response:
        entry = app.routes.get(request.context.get("resourcePath", ""), {}).get(request.method)
        page = entry is not None and _is_page(entry.view_function)
        edge = _Edge(page)
        try:
            services = runtime.get()
            edge.https = services.settings.cookie_secure
            if not page:
                edge.cors = services.cors.headers(request.headers.get("origin"))
            presented = services.transports.read(request.headers, page=page)
            if not presented.bearer:
                # Before any view runs, so a refused request changes nothing. A bearer token
                # is no ambient credential: another origin cannot make a browser send it.
                services.origins.check(request.method, request.headers)
            request_context = RequestContext(
                services,
                presented,
                ip=client_ip(request, services.settings.client_ip_header),
                user_agent=request.headers.get("user-agent", ""),
                base_path=pages.base_path(request),
            )
            state = _RequestState(request, request_context)
            if request.raw_body and _media_type(request) == JSON:
                # Parsed before any view, session read or hashing: a malformed body costs
                # nothing downstream, whatever the route.
                state.body = json_body(request)
        except AppError as error:
            return edge.finish(error_response(error))
        except Exception:
            logger.exception("could not set up request")
            return edge.finish(error_response(AppError()))
        edge.context = request_context
        reset = _current.set(state)
        unbind = pages.bind_viewer(lambda: _impersonation(request_context)) if page else None
        try:
            with request_budget():
                try:
                    response = get_response(request)
                except AppError as error:
                    response = error_response(error)
                if response.status_code < 500:
                    # A right password's upgrade is owed even where the flow then refused
                    # (a 404, a 409): never dropped, whatever happened after the check.
                    request_context.settle()
        except Exception:
            logger.exception("unhandled error")
            response = error_response(AppError())
        finally:
            _current.reset(reset)
            if unbind is not None:
                unbind()
        return edge.finish(response)


def _impersonation(request_context: RequestContext) -> pages.Impersonation | None:
    """The banner's facts, for a page viewed in an admin's impersonation session."""
    try:
        session = request_context.session()
    except AppError:
        return None  # the page itself says what went wrong
    if session is None or session.impersonator is None:
        return None
    return pages.Impersonation(session.user.email, session.impersonator.email)


@dataclass
class _Edge:
    """What the middleware learnt of a request, for its response."""

    page: bool
    cors: dict[str, str] = field(default_factory=dict)
    context: RequestContext | None = None
    https: bool = False  # a deployed stage (Secure cookies): never the local http one

    def finish(self, response: Response) -> Response:
        response = _in_our_shape(response)
        if self.context is not None:
            context = self.context
            services = context.services
            services.transports.render(
                context.presented,
                context.reply,
                response,
                page=self.page,
                now=services.clock.now(),
            )
        response.headers.update(self.cors)
        response.headers.setdefault("Cache-Control", "no-store")
        # Every response, JSON, page or static file: its type is what it says, never sniffed.
        response.headers["X-Content-Type-Options"] = "nosniff"
        if self.https:
            response.headers["Strict-Transport-Security"] = HSTS
        return response


def _in_our_shape(response: Response) -> Response:
    body = response.body
    if response.status_code < 400 or not (isinstance(body, dict) and "Code" in body):
        return response
    error_type = _CHALICE_ERRORS.get(response.status_code, AppError)
    shaped = error_response(error_type())
    shaped.headers = {**response.headers, **shaped.headers}
    return shaped
