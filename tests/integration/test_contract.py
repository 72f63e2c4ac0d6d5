"""schemathesis against the running service (chalice local on DynamoDB Local): generated
requests for every documented operation, each response checked against openapi.json."""

from __future__ import annotations

import json
import uuid
from itertools import count

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chalicelib.openapi import DOCUMENT
from tests.integration.conftest import Browser

EXAMPLES_PER_OPERATION = 30
PASSWORD = "correct horse battery"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
OPERATIONS = [
    (path, method)
    for path, item in json.loads(DOCUMENT.read_text())["paths"].items()
    for method in item
]


@pytest.mark.parametrize(
    ("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS]
)
def test_every_operation_keeps_its_contract(path, method, live_server):
    operation = schemathesis.openapi.from_path(str(DOCUMENT))[path][method]
    protected = "security" in operation.definition.raw
    examples = count()

    def signed_in_cookie() -> str:
        # A fresh account per example: some operations end the session or the account.
        browser = Browser()
        email = f"contract-{uuid.uuid4().hex[:12]}@example.com"
        body = {"email": email, "password": PASSWORD}
        assert browser.post(f"{live_server.url}/auth/signup", json=body).status_code == 201
        return browser.cookies["auth_session"]

    # The same examples on every run (derandomize): CI stays reproducible. No deadline: a
    # sign-up hashes a password with Argon2, tens of milliseconds.
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case):
        # Half the examples of a protected operation carry a real session, so its success
        # responses are checked too; the rest keep whatever cookie was generated.
        if protected and next(examples) % 2 == 0:
            case.cookies = {**case.cookies, "auth_session": signed_in_cookie()}
        case.call_and_validate(base_url=live_server.url, checks=CHECKS)

    check()
