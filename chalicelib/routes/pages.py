"""The pages of signing up, in and out, and the protected training page.

The sign-up, log-in, second-factor and verification pages take `next`: a path of ours (as
flows.social.safe_next has it; anything else is dropped) that the browser goes to once signed
in, instead of /training. The invitation page sends people through them that way and gets them
back. A `next` can carry a secret in its query (the invitation's token), so the pages that hold
one send no Referer.
"""

from __future__ import annotations

from urllib.parse import quote

from chalice import Blueprint, Response

from chalicelib import pages, web
from chalicelib.errors import AppError, NotFound
from chalicelib.flows import codes, signin, social, twofactor
from chalicelib.trainings import TRAININGS

blueprint = Blueprint(__name__)


@blueprint.route("/", methods=["GET"])
@web.page
def home() -> Response:
    return pages.render(web.current_request(), "home.html")


@blueprint.route("/static/{name}", methods=["GET"])
@web.page
def static_file(name: str) -> Response:
    """The pages' own stylesheet and scripts (and nothing else: the names are a fixed list)."""
    found = pages.static_file(name)
    if found is None:
        raise NotFound()
    body, content_type = found
    headers = {"Content-Type": content_type, "Cache-Control": "public, max-age=3600"}
    return Response(body=body, headers=headers)


@blueprint.route("/favicon.ico", methods=["GET"])
@web.page
def favicon() -> Response:
    """Browsers ask every origin for one: a plain 404 they may cache for a day, instead of
    API Gateway's 403 for a route that does not exist."""
    headers = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "max-age=86400"}
    return Response(body="Not found\n", status_code=404, headers=headers)


@blueprint.route("/signup", methods=["GET"])
@web.page
def signup_page() -> Response:
    return _credentials_page("signup.html")


@blueprint.route("/login", methods=["GET"])
@web.page
def login_page() -> Response:
    return _credentials_page("login.html")


@blueprint.route("/signup", methods=["POST"], content_types=[web.FORM])
@web.page
def signup_form() -> Response:
    request = web.current_request()
    email, password, raw_next = web.form_fields(request, "email", "password", "next")
    next_path = kept_next(raw_next)
    try:
        user = signin.sign_up(web.context(), email, password)
    except AppError as error:
        return _credentials_page("signup.html", error, email=email, next_path=next_path)
    if user is None:  # SIGNUP_REVEALS_ACCOUNTS=false: the same page whoever owns the address
        return _login_code_page("sent", email=email.strip(), signing_up=True)
    return pages.redirect(request, next_path or DEFAULT_NEXT)


@blueprint.route("/login", methods=["POST"], content_types=[web.FORM])
@web.page
def login_form() -> Response:
    request = web.current_request()
    email, password, raw_next = web.form_fields(request, "email", "password", "next")
    next_path = kept_next(raw_next)
    try:
        signin.log_in(web.context(), email, password)
    except AppError as error:
        return _credentials_page("login.html", error, email=email, next_path=next_path)
    return pages.redirect(request, after_sign_in(next_path))


# -- signing in with an emailed code ---------------------------------------------------------


@blueprint.route("/login/code", methods=["GET"])
@web.page
def login_code_page() -> Response:
    """The form for an address; opened from the mailed link, the code filled in and one
    button that posts it. Opening it changes nothing: a mail scanner uses nothing up."""
    query = web.current_request().query_params or {}
    email, code = query.get("email", ""), query.get("code", "")
    step = "link" if email and code else "email"
    _codes_on(step)
    if web.context().session() is not None:
        return pages.redirect(web.current_request(), "/training")
    return _login_code_page(step, email=email, code=code if step == "link" else "")


@blueprint.route("/login/code", methods=["POST"], content_types=[web.FORM])
@web.page
def login_code_form() -> Response:
    _codes_on("email")
    request = web.current_request()
    (email,) = web.form_fields(request, "email")
    try:
        codes.request_login_code(web.context(), email)
    except AppError as error:
        return _login_code_page("email", error, email=email)
    return _login_code_page("sent", email=email.strip())


@blueprint.route("/login/code/verify", methods=["POST"], content_types=[web.FORM])
@web.page
def login_code_verify_form() -> Response:
    _codes_on("code")
    request = web.current_request()
    email, code = web.form_fields(request, "email", "code")
    try:
        codes.log_in_with_code(web.context(), email, code)
    except AppError as error:
        step = "email" if error.code == "invalid_email" else "code"
        return _login_code_page(step, error, email=email)
    return pages.redirect(request, after_sign_in(""))


def _codes_on(step: str) -> None:
    """Asking for a code needs code sign-in (EMAIL_CODE_LOGIN); entering one, also a quiet
    sign-up's (SIGNUP_REVEALS_ACCOUNTS=false)."""
    settings = web.context().services.settings
    if not (settings.email_code_login if step == "email" else settings.emailed_codes_sign_in):
        raise NotFound()


def _login_code_page(
    step: str, error: AppError | None = None, *, signing_up: bool = False, **values: str
) -> Response:
    return pages.form_page(
        web.current_request(),
        "login_code.html",
        error=error,
        headers=pages.NO_REFERRER,  # the mailed link carries the code in its query
        step=step,
        signing_up=signing_up,
        code_login=web.context().services.settings.email_code_login,
        **{"email": "", "code": "", **values},
    )


@blueprint.route("/logout", methods=["POST"], content_types=[web.FORM])
@web.page
def logout_form() -> Response:
    signin.log_out(web.context())
    return pages.redirect(web.current_request(), "/login")


@blueprint.route("/2fa", methods=["GET"])
@web.session_page_required
def two_factor_page() -> Response:
    next_path = query_next()
    if not _second_factor_owed():
        return pages.redirect(web.current_request(), next_path or DEFAULT_NEXT)
    return _two_factor_page(next_path=next_path)


@blueprint.route("/2fa", methods=["POST"], content_types=[web.FORM])
@web.session_page_required
def two_factor_form() -> Response:
    request = web.current_request()
    code, raw_next = web.form_fields(request, "code", "next")
    next_path = kept_next(raw_next)
    try:
        twofactor.verify(web.context(), code)
    except AppError as error:
        return _two_factor_page(error, next_path=next_path)
    return pages.redirect(request, next_path or DEFAULT_NEXT)


def _two_factor_page(error: AppError | None = None, *, next_path: str = "") -> Response:
    factors = twofactor.factors(web.context())
    return pages.form_page(
        web.current_request(),
        "two_factor.html",
        error=error,
        headers=pages.NO_REFERRER if next_path else None,
        totp=factors.totp,
        passkeys=factors.passkeys,
        next_path=next_path,
    )


@blueprint.route("/training", methods=["GET"])
@web.login_page_required
def training_page() -> Response:
    user = web.current_user()
    return pages.render(
        web.current_request(), "training.html", email=user.email, trainings=TRAININGS
    )


def _credentials_page(
    template: str, error: AppError | None = None, email: str = "", next_path: str | None = None
) -> Response:
    if next_path is None:
        next_path = query_next()
    if error is None and web.context().session() is not None:
        return pages.redirect(web.current_request(), next_path or DEFAULT_NEXT)
    return pages.form_page(
        web.current_request(),
        template,
        error=error,
        headers=pages.NO_REFERRER if next_path else None,
        email=email,
        next_path=next_path,
        **sign_in_offers(),
    )


# -- where the browser goes once signed in ----------------------------------------------------

DEFAULT_NEXT = social.DEFAULT_NEXT


def kept_next(raw: str) -> str:
    """`raw` if it is a path of ours to come back to, else "" (the default: /training)."""
    return raw if raw and social.safe_next(raw) == raw else ""


def query_next() -> str:
    """The page's `?next=`, if it is a path of ours."""
    return kept_next(web.query_param("next") or "")


def with_next(path: str, next_path: str) -> str:
    """`path` asked to send the browser on to `next_path` afterwards."""
    return f"{path}?next={quote(next_path, safe='/')}" if next_path else path


def after_sign_in(next_path: str) -> str:
    """Where a sign-in sends the browser: the second factor first if it owes one."""
    if _second_factor_owed():
        return with_next("/2fa", next_path)
    return next_path or DEFAULT_NEXT


def sign_in_offers() -> dict[str, object]:
    """The other ways in that the login and sign-up pages offer."""
    ctx = web.context()
    return {
        "code_login": ctx.services.settings.email_code_login,
        "providers": social.provider_names(ctx),
    }


def _second_factor_owed() -> bool:
    return web.current_session().second_factor_owed
