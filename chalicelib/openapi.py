"""The OpenAPI 3.1 document (openapi.json beside this file): the single description of every
route, served as is. A test keeps it and the routes in step; schemathesis checks the service
against it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

DOCUMENT = Path(__file__).parent / "openapi.json"


@cache
def document_text() -> str:
    return DOCUMENT.read_text(encoding="utf-8")
