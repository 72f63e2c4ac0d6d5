"""The pages of the account's life: verifying the email, a forgotten password, and settings
(email, password, sessions, deletion). Each form posts to its own route, which calls the same
flow as the JSON API and answers with a redirect (success) or the page with the error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib import pages, web
from chalicelib.errors import AlreadyVerified, AppError
from chalicelib.flows import email, signin

blueprint = Blueprint(__name__)

# A reset link's token must not leak to another site through the Referer header.
NO_REFERRER = {"Referrer-Policy": "no-referrer"}

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
}

_SETTINGS_FIELDS = {
    "invalid_email": "new_email",
    "email_taken": "new_email",
    "invalid_credentials": "password",
}


# -- verify-email ---------------------------------------------------------------------------


@blueprint.route("/verify-email", methods=["GET"])
@web.account_page_required
def verify_email_page() -> Response:
    if web.current_user().email_verified:
        return _redirect("/settings?notice=verified")
    return _verify_page()


@blueprint.route("/verify-email", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def verify_email_form() -> Response:
    (code,) = web.form_fields(web.current_request(), "code")
    try:
        email.verify_email(web.context(), code)
    except AppError as error:
        return _verify_page(error)
    return _redirect("/training")


@blueprint.route("/verify-email/resend", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def resend_verification_form() -> Response:
    try:
        email.resend_verification(web.context())
    except AlreadyVerified:
        return _redirect("/settings?notice=verified")
    except AppError as error:
        return _verify_page(error)
    return _redirect("/verify-email?notice=code-sent")


def _verify_page(error: AppError | None = None) -> Response:
    return pages.form_page(
        web.current_request(),
        "verify_email.html",
        error=error,
        email=web.current_user().email,
        notice=_notice(),
    )


# -- forgotten password ---------------------------------------------------------------------


@blueprint.route("/forgot-password", methods=["GET"])
def forgot_password_page() -> Response:
    return pages.form_page(web.current_request(), "forgot_password.html", email="", sent_to=None)


@blueprint.route("/forgot-password", methods=["POST"], content_types=[web.FORM])
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
def reset_password_page() -> Response:
    query = web.current_request().query_params or {}
    return _reset_page(query.get("token", ""))


@blueprint.route("/reset-password", methods=["POST"], content_types=[web.FORM])
def reset_password_form() -> Response:
    token, new_password = web.form_fields(web.current_request(), "token", "new_password")
    try:
        email.reset_password(web.context(), token, new_password)
    except AppError as error:
        return _reset_page(token, error)
    return _redirect("/training")


def _reset_page(token: str, error: AppError | None = None) -> Response:
    return pages.form_page(
        web.current_request(),
        "reset_password.html",
        error=error,
        field_of={"weak_password": "new_password", "invalid_password": "new_password"},
        headers=NO_REFERRER,
        token=token,
    )


# -- settings -----------------------------------------------------------------------------


@blueprint.route("/settings", methods=["GET"])
@web.account_page_required
def settings_page() -> Response:
    return _settings_page()


@blueprint.route("/settings/email", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def change_email_form() -> Response:
    new_email, password = web.form_fields(web.current_request(), "new_email", "password")
    return _settings_action(
        lambda: email.request_email_change(web.context(), new_email, password),
        "/settings?notice=change-code-sent",
        form="change-email",
        new_email=new_email,
    )


@blueprint.route("/settings/email/confirm", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def confirm_email_form() -> Response:
    (code,) = web.form_fields(web.current_request(), "code")
    return _settings_action(
        lambda: email.confirm_email_change(web.context(), code),
        "/settings?notice=email-changed",
        form="confirm-email",
    )


@blueprint.route("/settings/password", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def change_password_form() -> Response:
    current, new = web.form_fields(web.current_request(), "current_password", "new_password")
    return _settings_action(
        lambda: signin.change_password(web.context(), current, new),
        "/settings?notice=password-changed",
        form="password",
        field_of={
            "invalid_credentials": "current_password",
            "weak_password": "new_password",
            "invalid_password": "new_password",
        },
    )


@blueprint.route("/settings/sessions/revoke", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def revoke_session_form() -> Response:
    (session_id,) = web.form_fields(web.current_request(), "session_id")
    if session_id == web.current_session().id:
        signin.revoke_session(web.context(), session_id)
        return _redirect("/login")
    return _settings_action(
        lambda: signin.revoke_session(web.context(), session_id),
        "/settings?notice=signed-out",
        form="sessions",
    )


@blueprint.route("/settings/sessions/revoke-others", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def revoke_other_sessions_form() -> Response:
    signin.revoke_other_sessions(web.context())
    return _redirect("/settings?notice=signed-out-others")


@blueprint.route("/settings/delete-account", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def delete_account_form() -> Response:
    (password,) = web.form_fields(web.current_request(), "password")
    return _settings_action(
        lambda: signin.delete_account(web.context(), password), "/", form="delete"
    )


def _settings_action(
    action: Callable[[], object],
    success: str,
    *,
    form: str,
    field_of: dict[str, str] | None = None,
    **values: str,
) -> Response:
    try:
        action()
    except AppError as error:
        return _settings_page(error, form=form, field_of=field_of, **values)
    return _redirect(success)


def _settings_page(
    error: AppError | None = None,
    *,
    form: str | None = None,
    field_of: dict[str, str] | None = None,
    **values: Any,
) -> Response:
    ctx = web.context()
    sessions, current_id = signin.list_sessions(ctx)
    return pages.form_page(
        web.current_request(),
        "settings.html",
        error=error,
        form=form,
        field_of={**_SETTINGS_FIELDS, **(field_of or {})},
        user=web.current_user(),
        sessions=sessions,
        current_id=current_id,
        pending_email=email.pending_email_change(ctx),
        notice=None if error else _notice(),
        **{"new_email": "", **values},
    )


def _notice() -> str | None:
    query = web.current_request().query_params or {}
    return NOTICES.get(query.get("notice", ""))


def _redirect(path: str) -> Response:
    return pages.redirect(web.current_request(), path)
