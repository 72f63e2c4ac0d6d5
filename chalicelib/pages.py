"""Server-rendered pages: Jinja2 templates with autoescaping, and the redirects between them.

Jinja2 is imported on the first page render, so JSON API requests never pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from chalice import Response
from chalice.app import Request

from chalicelib.errors import AppError

if TYPE_CHECKING:
    import jinja2

_HERE = Path(__file__).parent
HTML = "text/html; charset=utf-8"

# What a redirect after a successful form tells the user (`?notice=<key>`); unknown keys show
# nothing, so a crafted link cannot put words on the page.
NOTICES = {
    "code-sent": "We sent you a new code.",
    "verified": "Your email address is verified.",
    "change-code-sent": "We sent a code to your new address. Enter it below.",
    "email-changed": "Your email address was changed.",
    "password-changed": "Your password was changed. Other sessions were signed out.",
    "signed-out": "That session was signed out.",
    "signed-out-others": "Every other session was signed out.",
    "2fa-off": "Two-factor sign-in was turned off. Other sessions were signed out.",
    "passkey-added": "Your passkey was added.",
    "passkey-renamed": "Your passkey was renamed.",
    "passkey-removed": "Your passkey was deleted.",
    "reauthenticated": "Confirmed. For 5 minutes, changes here need no further proof.",
    "password-set": "Your password was set. Other sessions were signed out.",
    "identity-linked": "The sign-in was connected to your account.",
    "identity-unlinked": "The sign-in was disconnected.",
    "user-banned": "The user is banned, and every session of theirs was signed out.",
    "user-unbanned": "The ban was lifted.",
    "user-signed-out": "Every session of the user was signed out.",
    "roles-changed": "The user's roles were changed.",
    "user-deleted": "The user was deleted, and told by mail.",
    "organization-created": "Your organization was created. You are its owner.",
    "organization-renamed": "The organization was renamed.",
    "organization-switched": "You now work in the organization you chose.",
    "no-organization": "You now work in no organization.",
    "organization-left": "You left the organization.",
    "organization-deleted": "The organization was deleted, with its memberships and invitations.",
    "invitation-sent": "The invitation was sent.",
    "invitation-revoked": "The invitation was revoked: its link leads nowhere now.",
    "invitation-accepted": "Welcome: you are a member of this organization.",
    "member-role-changed": "The member's role was changed.",
    "member-removed": "The member was removed from the organization.",
}

# Which form field an error belongs to, so its message is shown (and announced) next to it;
# a page whose fields have other names says so (`field_of`).
_FIELD_OF_ERROR = {
    "invalid_email": "email",
    "email_taken": "email",
    "invalid_password": "password",
    "weak_password": "password",
    "invalid_code": "code",
    "code_expired": "code",
}


class Impersonation(NamedTuple):
    """Who a page's viewer is signed in as, and the admin behind it: the banner every page
    shows while an admin impersonates a user."""

    user_email: str
    admin_email: str


# Set by the edge for each page request: finds the viewer's impersonation (reading the session
# once, if no view has yet). Pages never see sessions themselves.
_viewer: ContextVar[Callable[[], Impersonation | None] | None] = ContextVar(
    "page_viewer", default=None
)


def bind_viewer(find: Callable[[], Impersonation | None]) -> Callable[[], None]:
    """Bind this request's way of finding an impersonation; returns the unbinding."""
    token = _viewer.set(find)
    return lambda: _viewer.reset(token)


def _impersonation() -> Impersonation | None:
    find = _viewer.get()
    return None if find is None else find()


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from chalicelib.user_agents import describe  # its table compiles with the first page

    environment.filters["when"] = _when
    environment.filters["device"] = describe  # a session's User-Agent, as people name it
    return environment


def _when(epoch_seconds: int) -> str:
    """An instant as people read it: `27 Nov 2026, 23:55 UTC`."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%d %b %Y, %H:%M UTC")


# The files under static/ that pages may load, and their types: a fixed list, not a folder.
_STATIC = {
    "style.css": "text/css; charset=utf-8",
    "account.js": "text/javascript; charset=utf-8",
    "passkeys.js": "text/javascript; charset=utf-8",
}

# Pages load only our own script and stylesheet: an injected <script> or inline handler would
# not run. Inline SVG (the QR code) is markup, which this allows.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


# For pages whose URL carries a secret (a reset link's token, a sign-in link's code): the
# browser must not send that URL to another site in a Referer.
NO_REFERRER = {"Referrer-Policy": "no-referrer"}


def static_file(name: str) -> tuple[str, str] | None:
    """(body, content type) of one of the pages' own static files, or None."""
    if name not in _STATIC:
        return None  # checked before the cache: unknown names must not fill it
    return _read_static(name), _STATIC[name]


@cache
def _read_static(name: str) -> str:
    return (_HERE / "static" / name).read_text(encoding="utf-8")


def base_path(request: Request) -> str:
    """The prefix API Gateway puts before our routes (the stage, e.g. `/api`), or "".

    requestContext.path is the path the browser used; resourcePath is the route, whose
    parameters ({provider}) take the values they matched: the difference is the prefix.
    """
    full_path = str(request.context.get("path") or "")
    route = request.path
    for name, value in (request.uri_params or {}).items():
        route = route.replace("{" + name + "}", value)
    if route != "/" and full_path.endswith(route):
        return full_path[: -len(route)]
    return full_path.rstrip("/") if route == "/" else ""


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    html = (
        _environment()
        .get_template(template)
        .render(base=base_path(request), impersonation=_impersonation(), **context)
    )
    return Response(
        body=html,
        status_code=status,
        headers={
            "Content-Type": HTML,
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            **(headers or {}),
        },
    )


def form_page(
    request: Request,
    template: str,
    *,
    error: AppError | None = None,
    form: str | None = None,
    field_of: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """A page of forms; after a failure, with the message next to its field (or its form, on a
    page with several: `form`), the values kept, and the failure's status code."""
    if error is None:
        return render(
            request,
            template,
            headers=headers,
            error=None,
            error_field=None,
            error_form=None,
            error_code=None,
            **context,
        )
    fields = {**_FIELD_OF_ERROR, **(field_of or {})}
    return render(
        request,
        template,
        status=error.status,
        headers={**error.headers(), **(headers or {})},
        error=error.message,
        error_field=fields.get(error.code),
        error_form=form,
        error_code=error.code,
        **context,
    )


def notice(request: Request) -> str | None:
    """The message a redirect's `?notice=` asks for, if it is one of ours."""
    query = request.query_params or {}
    return NOTICES.get(query.get("notice", ""))


def redirect(request: Request, path: str) -> Response:
    """303 See Other: after a POST the browser follows with a GET."""
    return Response(body="", status_code=303, headers={"Location": base_path(request) + path})
