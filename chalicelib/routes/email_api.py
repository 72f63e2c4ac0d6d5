"""The JSON API of the email flows: verification, password reset, email change."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import web
from chalicelib.flows import email
from chalicelib.routes.shapes import accepted, user_json

blueprint = Blueprint(__name__)


@blueprint.route("/auth/email/verify", methods=["POST"])
@web.account_required
def verify_email() -> dict[str, Any]:
    user = email.verify_email(web.context(), *web.json_fields("code"))
    return {"user": user_json(user)}


@blueprint.route("/auth/email/verify/resend", methods=["POST"])
@web.account_required
def resend_verification() -> Response:
    email.resend_verification(web.context())
    return accepted()


@blueprint.route("/auth/password-reset", methods=["POST"])
def request_password_reset() -> Response:
    email.request_password_reset(web.context(), *web.json_fields("email"))
    return accepted()


@blueprint.route("/auth/password-reset/confirm", methods=["POST"])
def reset_password() -> dict[str, Any]:
    token, new_password = web.json_fields("token", "new_password")
    # The second factor, for accounts that have one: a code, or a passkey's assertion.
    code = web.optional_json_field("code")
    credential = web.optional_json_object_field("credential")
    user = email.reset_password(web.context(), token, new_password, code, credential)
    return {"user": user_json(user)}


@blueprint.route("/auth/email", methods=["POST"])
@web.account_required
def request_email_change() -> Response:
    (new_email,) = web.json_fields("new_email")
    email.request_email_change(web.context(), new_email, web.optional_json_field("password"))
    return accepted()


@blueprint.route("/auth/email/confirm", methods=["POST"])
@web.account_required
def confirm_email_change() -> dict[str, Any]:
    user = email.confirm_email_change(web.context(), *web.json_fields("code"))
    return {"user": user_json(user)}
