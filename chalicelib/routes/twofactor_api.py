"""The JSON API of two-factor sign-in: set-up, the second step of a sign-in, recovery codes."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import web
from chalicelib.flows import twofactor
from chalicelib.routes.shapes import no_content, user_json

blueprint = Blueprint(__name__)


@blueprint.route("/auth/2fa", methods=["GET"])
@web.account_required
def status() -> dict[str, Any]:
    state = twofactor.status(web.context())
    return {"totp": state.totp, "recovery_codes_left": state.recovery_codes_left}


@blueprint.route("/auth/2fa/totp/setup", methods=["POST"])
@web.account_required
def setup() -> dict[str, Any]:
    setup = twofactor.begin_setup(web.context(), web.optional_json_field("password"))
    return {"secret": setup.secret, "uri": setup.uri, "qr_svg": setup.qr_svg}


@blueprint.route("/auth/2fa/totp/enable", methods=["POST"])
@web.account_required
def enable() -> dict[str, Any]:
    return {"recovery_codes": twofactor.enable(web.context(), *web.json_fields("code"))}


@blueprint.route("/auth/2fa/verify", methods=["POST"])
@web.session_required
def verify() -> dict[str, Any]:
    user = twofactor.verify(web.context(), *web.json_fields("code"))
    return {"user": user_json(user)}


@blueprint.route("/auth/2fa/recovery-codes", methods=["POST"])
@web.account_required
def replace_recovery_codes() -> dict[str, Any]:
    (code,) = web.json_fields("code")
    password = web.optional_json_field("password")
    return {"recovery_codes": twofactor.replace_recovery_codes(web.context(), password, code)}


@blueprint.route("/auth/2fa", methods=["DELETE"])
@web.account_required
def disable() -> Response:
    (code,) = web.json_fields("code")
    twofactor.disable(web.context(), web.optional_json_field("password"), code)
    return no_content()
