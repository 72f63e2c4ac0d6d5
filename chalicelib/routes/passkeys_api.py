"""The JSON API of passkeys: registering and managing them, signing in with one, and using one
as the second factor. Options come in the WebAuthn JSON form that
`PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` take, and
credentials go back as `credential.toJSON()` gives them."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import web
from chalicelib.clock import isoformat
from chalicelib.flows import passkeys
from chalicelib.routes.shapes import no_content, user_json
from chalicelib.store.passkeys import PasskeyRecord

blueprint = Blueprint(__name__)


def passkey_json(record: PasskeyRecord) -> dict[str, Any]:
    return {
        "id": record.credential_id,
        "name": record.name,
        "created_at": isoformat(record.created_at),
        "last_used_at": isoformat(record.last_used_at),
        "backed_up": record.backed_up,
        "device_type": record.device_type,
    }


@blueprint.route("/auth/passkeys/register/options", methods=["POST"])
@web.account_required
def registration_options() -> dict[str, Any]:
    # The body may be left out: within 5 minutes of a passkey assertion no password is needed.
    return passkeys.registration_options(web.context(), web.optional_json_field("password"))


@blueprint.route("/auth/passkeys/register", methods=["POST"])
@web.account_required
def register() -> Response:
    credential = web.json_object_field("credential")
    (name,) = web.json_fields("name")
    record = passkeys.register(web.context(), credential, name)
    return Response(body={"passkey": passkey_json(record)}, status_code=201)


@blueprint.route("/auth/passkeys", methods=["GET"])
@web.account_required
def list_passkeys() -> dict[str, Any]:
    return {"passkeys": [passkey_json(r) for r in passkeys.list_passkeys(web.context())]}


@blueprint.route("/auth/passkeys/{passkey_id}", methods=["PATCH"])
@web.account_required
def rename(passkey_id: str) -> Response:
    (name,) = web.json_fields("name")
    passkeys.rename(web.context(), passkey_id, name, web.optional_json_field("password"))
    return no_content()


@blueprint.route("/auth/passkeys/{passkey_id}", methods=["DELETE"])
@web.account_required
def delete(passkey_id: str) -> Response:
    passkeys.delete(web.context(), passkey_id, web.optional_json_field("password"))
    return no_content()


@blueprint.route("/auth/passkeys/login/options", methods=["POST"])
def login_options() -> dict[str, Any]:
    return passkeys.login_options(web.context())


@blueprint.route("/auth/passkeys/login", methods=["POST"])
def login() -> dict[str, Any]:
    user = passkeys.log_in(web.context(), web.json_object_field("credential"))
    return {"user": user_json(user), "two_factor_required": False}


@blueprint.route("/auth/2fa/passkey/options", methods=["POST"])
@web.session_required
def second_factor_options() -> dict[str, Any]:
    return passkeys.second_factor_options(web.context())


@blueprint.route("/auth/2fa/passkey", methods=["POST"])
@web.session_required
def second_factor() -> dict[str, Any]:
    user = passkeys.second_factor(web.context(), web.json_object_field("credential"))
    return {"user": user_json(user)}
