"""The OpenAPI document is the single description of the routes: neither may have what the
other lacks."""

import json

import schemathesis

from chalicelib.openapi import DOCUMENT

BOTH_SCHEMES = [{"sessionCookie": []}, {"bearerAuth": []}]  # either transport
METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def test_every_route_is_documented_and_every_documented_route_exists():
    from app import app

    routes = {
        (path, method.lower())
        for path, entries in app.routes.items()
        for method, entry in entries.items()
        if entry.view_name != "preflight"  # the CORS preflights: one description for all
    }
    document = json.loads(DOCUMENT.read_text())
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    assert routes == documented


def test_the_session_cookie_is_documented_exactly_on_the_routes_a_decorator_protects():
    """The contract suite gives a real session to the operations documented with `security`;
    a route is protected when web's decorators wrap its view (functools.wraps: `__wrapped__`)."""
    from app import app

    document = json.loads(DOCUMENT.read_text())
    for path, entries in app.routes.items():
        for method, entry in entries.items():
            if entry.view_name == "preflight":
                continue
            operation = document["paths"][path][method.lower()]
            protected = hasattr(entry.view_function, "__wrapped__")
            assert ("security" in operation) == protected, f"{method} {path}"
            if getattr(entry.view_function, "access_token_required", False):
                assert operation["security"] == [{"accessToken": []}], f"{method} {path}"
            elif protected:
                assert operation["security"] == BOTH_SCHEMES, f"{method} {path}"


def test_the_document_is_valid_openapi_3_1_with_the_one_error_shape():
    schema = schemathesis.openapi.from_path(str(DOCUMENT))
    document = schema.raw_schema
    assert document["openapi"] == "3.1.0"
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    operations = list(schema.get_all_operations())
    documented = sum(1 for item in document["paths"].values() for m in item if m in METHODS)
    assert len(operations) == documented == 129
    assert all(op.ok() for op in operations)  # every operation parses


def test_the_document_is_served(client):
    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json_body == json.loads(DOCUMENT.read_text())
