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
    resource: str | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`resource` is the route's template when it has parameters ("/auth/sessions/{session_id}"):
    API Gateway sends it with the values it matched, and Chalice routes by it."""
    resource = resource or path
    parameters = _path_parameters(resource, path)
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if body is not None:
        headers.setdefault("content-type", "application/json")
        body = json.dumps(body)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "identity": {"sourceIp": ip},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _path_parameters(resource: str, path: str) -> dict[str, str]:
    names = resource.strip("/").split("/")
    values = path.strip("/").split("/")
    return {
        name[1:-1]: value
        for name, value in zip(names, values, strict=True)
        if name.startswith("{") and name.endswith("}")
    }
