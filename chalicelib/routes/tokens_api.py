"""Access tokens for a team's other services, and the documents that let them verify one."""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint, Response

from chalicelib import web
from chalicelib.access_tokens import DISCOVERY_PATH, JWKS_PATH
from chalicelib.flows import tokens

blueprint = Blueprint(__name__)

# Verifiers fetch these often and API Gateway caches them anyway; a new key is published
# hours before it signs, so five minutes of caching never hides one that matters.
_PUBLISHED = {"Content-Type": "application/json", "Cache-Control": "public, max-age=300"}


@blueprint.route("/auth/token", methods=["POST"])
@web.login_required
def issue_token() -> dict[str, Any]:
    issued = tokens.issue(web.context(), web.optional_json_field("audience"))
    return {"access_token": issued.token, "token_type": "Bearer", "expires_in": issued.expires_in}


@blueprint.route(JWKS_PATH, methods=["GET"])
def jwks() -> Response:
    return Response(body=json.dumps(tokens.jwks(web.context())), headers=_PUBLISHED)


@blueprint.route(DISCOVERY_PATH, methods=["GET"])
def openid_configuration() -> Response:
    return Response(body=json.dumps(tokens.discovery(web.context())), headers=_PUBLISHED)
