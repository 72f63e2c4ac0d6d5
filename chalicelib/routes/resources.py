"""The protected sample resources (one behind our sessions, one behind our access tokens),
and the API's own description."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import openapi, web
from chalicelib.trainings import TRAININGS

blueprint = Blueprint(__name__)


@blueprint.route("/trainings", methods=["GET"])
@web.login_required
def trainings() -> dict[str, Any]:
    return {"trainings": list(TRAININGS)}


@blueprint.route("/openapi.json", methods=["GET"])
def openapi_document() -> Response:
    headers = {"Content-Type": "application/json", "Cache-Control": "public, max-age=300"}
    return Response(body=openapi.document_text(), headers=headers)


@blueprint.route("/whoami", methods=["GET"])
@web.access_token_required
def whoami() -> dict[str, Any]:
    """A sample of a team's own route behind our access tokens: what the JWT authorizer
    verified, with no session read. Copy its decorator onto a route of yours."""
    claims = web.token_claims()
    exp = str(claims.get("exp", ""))
    return {
        "user_id": claims["sub"],
        "email": claims.get("email"),
        "scope": claims.get("scope", ""),
        "expires_at": int(exp) if exp.isdigit() else None,
    }
