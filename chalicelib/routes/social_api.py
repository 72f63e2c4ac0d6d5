"""The JSON API of the identities (Google, GitHub, any OpenID Provider) linked to an account."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import web
from chalicelib.clock import isoformat
from chalicelib.flows import social
from chalicelib.routes.shapes import no_content

blueprint = Blueprint(__name__)


@blueprint.route("/auth/identities", methods=["GET"])
@web.account_required
def identities() -> dict[str, Any]:
    return {"identities": [identity_json(i) for i in social.identities(web.context())]}


@blueprint.route("/auth/identities/{identity_id}", methods=["DELETE"])
@web.account_required
def disconnect(identity_id: str) -> Response:
    social.disconnect(web.context(), identity_id, web.optional_json_field("password"))
    return no_content()


def identity_json(linked: social.LinkedIdentity) -> dict[str, Any]:
    record = linked.record
    return {
        "id": record.id,
        "provider": record.provider,
        "name": linked.name,
        "email": record.email,
        "created_at": isoformat(record.created_at),
        "last_used_at": isoformat(record.last_used_at),
    }
