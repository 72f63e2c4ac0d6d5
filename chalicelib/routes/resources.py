"""The protected sample resource and the API's own description."""

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
