"""API Gateway (REST, proxy integration) events, as Lambda hands them to the Chalice app."""

from __future__ import annotations

import json
from typing import Any


def api_event(
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
    ip: str = "203.0.113.10",
) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if body is not None:
        headers.setdefault("content-type", "application/json")
        body = json.dumps(body)
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "identity": {"sourceIp": ip},
        },
        "body": body,
        "isBase64Encoded": False,
    }
