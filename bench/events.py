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


def http_api_event(
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
    ip: str = "203.0.113.10",
    resource: str | None = None,
    domain: str = "abc123.execute-api.us-east-1.amazonaws.com",
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The event an HTTP API sends in payload format 1.0, after AWS's documented example
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-
    lambda.html): the REST shape with `version`, the `$default` stage and no prefix in
    requestContext.path, `domainName`, and headers in lower case. `claims`: what a JWT
    authorizer passes of the token it verified, in 1.0's `requestContext.authorizer` (every
    value a string; `scopes` null)."""
    event = api_event(method, path, headers, body, ip=ip, resource=resource)
    event["version"] = "1.0"
    event["requestContext"] = {
        "accountId": "123456789012",
        "apiId": domain.split(".", 1)[0],
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "extendedRequestId": "request-id",
        "httpMethod": method,
        "identity": {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": ip,
            "user": None,
            "userAgent": event["headers"].get("user-agent", ""),
            "userArn": None,
        },
        "path": path,  # the $default stage adds no prefix
        "protocol": "HTTP/1.1",
        "requestId": "id=",
        "requestTime": "04/Mar/2020:19:15:17 +0000",
        "requestTimeEpoch": 1583349317135,
        "resourceId": None,
        "resourcePath": event["resource"],
        "stage": "$default",
    }
    if claims is not None:
        event["requestContext"]["authorizer"] = {"claims": claims, "scopes": None}
    return event
