"""The pages around an account's email: verifying it, and a forgotten password. Each form
posts to its own route, which calls the same flow as the JSON API and answers with a redirect
(success) or the page with the error."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import pages, web
from chalicelib.errors import AlreadyVerified, AppError
from chalicelib.flows import email
from chalicelib.routes.pages import DEFAULT_NEXT, kept_next, query_next, with_next

blueprint = Blueprint(__name__)

# -- verify-email ---------------------------------------------------------------------------


@blueprint.route("/verify-email", methods=["GET"])
@web.account_page_required
def verify_email_page() -> Response:
    next_path = query_next()
    if web.current_user().email_verified:
        return pages.redirect(web.current_request(), next_path or "/settings?notice=verified")
    return _verify_page(next_path=next_path)


@blueprint.route("/verify-email", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def verify_email_form() -> Response:
    code, raw_next = web.form_fields(web.current_request(), "code", "next")
    next_path = kept_next(raw_next)
    try:
        email.verify_email(web.context(), code)
    except AppError as error:
        return _verify_page(error, next_path=next_path)
    return pages.redirect(web.current_request(), next_path or DEFAULT_NEXT)


@blueprint.route("/verify-email/resend", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def resend_verification_form() -> Response:
    (raw_next,) = web.form_fields(web.current_request(), "next")
    next_path = kept_next(raw_next)
    try:
        email.resend_verification(web.context())
    except AlreadyVerified:
        return pages.redirect(web.current_request(), next_path or "/settings?notice=verified")
    except AppError as error:
        return _verify_page(error, next_path=next_path)
    sent = "/verify-email?notice=code-sent"
    if next_path:
        sent = with_next("/verify-email", next_path) + "&notice=code-sent"
    return pages.redirect(web.current_request(), sent)


def _verify_page(error: AppError | None = None, *, next_path: str = "") -> Response:
    return pages.form_page(
        web.current_request(),
        "verify_email.html",
        error=error,
        headers=pages.NO_REFERRER if next_path else None,
        email=web.current_user().email,
        notice=pages.notice(web.current_request()),
        next_path=next_path,
    )


# -- forgotten password ---------------------------------------------------------------------


@blueprint.route("/forgot-password", methods=["GET"])
@web.page
def forgot_password_page() -> Response:
    return pages.form_page(web.current_request(), "forgot_password.html", email="", sent_to=None)


@blueprint.route("/forgot-password", methods=["POST"], content_types=[web.FORM])
@web.page
def forgot_password_form() -> Response:
    request = web.current_request()
    (address,) = web.form_fields(request, "email")
    try:
        email.request_password_reset(web.context(), address)
    except AppError as error:
        return pages.form_page(
            request, "forgot_password.html", error=error, email=address, sent_to=None
        )
    return pages.form_page(request, "forgot_password.html", email="", sent_to=address.strip())


@blueprint.route("/reset-password", methods=["GET"])
@web.page
def reset_password_page() -> Response:
    query = web.current_request().query_params or {}
    return _reset_page(query.get("token", ""))


@blueprint.route("/reset-password", methods=["POST"], content_types=[web.FORM])
@web.page
def reset_password_form() -> Response:
    token, new_password, code, credential = web.form_fields(
        web.current_request(), "token", "new_password", "code", "credential"
    )
    try:
        # The page's script puts a passkey's assertion, as JSON, into the `credential` field.
        assertion = web.parse_json_object(credential) if credential else None
        email.reset_password(web.context(), token, new_password, code or None, assertion)
    except AppError as error:
        needs_code = bool(code or credential) or error.code in _SECOND_FACTOR
        return _reset_page(token, error, needs_code=needs_code)
    return pages.redirect(web.current_request(), "/training")


# The answers that mean the account has two-factor on: the form then asks for the code.
_SECOND_FACTOR = {
    "second_factor_missing",
    "invalid_code",
    "invalid_credential",
    "too_many_attempts",
}


def _reset_page(token: str, error: AppError | None = None, *, needs_code: bool = False) -> Response:
    return pages.form_page(
        web.current_request(),
        "reset_password.html",
        error=error,
        field_of={
            "weak_password": "new_password",
            "invalid_password": "new_password",
            "second_factor_missing": "code",
        },
        headers=pages.NO_REFERRER,
        token=token,
        needs_code=needs_code,
    )
