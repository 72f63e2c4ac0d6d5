"""GET /auth/account/export: a user takes a copy of their data (GDPR article 20), with no
secret in it, limited, audited, and an event."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.limits import DATA_EXPORTS
from tests.conftest import table_items
from tests.helpers import (
    ANN,
    BOB,
    PASSWORD,
    MotoStream,
    assert_error,
    call,
    session_token,
    sign_up,
)
from tests.test_admin import admin_session, user_id_of
from tests.test_two_factor import enrol


@pytest.fixture
def stream(settings, clock, dynamodb):
    return MotoStream(settings.table_name, clock)


def export(client, token):
    return call(client, "GET", "/auth/account/export", token=token)


def test_the_export_is_an_attachment_of_the_users_own_data(client, services, stream):
    token = sign_up(client)
    user_id = user_id_of(client, token)
    stream.consume(services)  # the sign-up's events
    response = export(client, token)
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="my-account-data.json"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    document = json.loads(response.body)
    assert document["user"]["id"] == user_id
    assert document["user"]["email"] == ANN
    assert document["user"]["email_verified"] is True
    assert document["user"]["has_password"] is True
    assert document["user"]["roles"] == []
    assert [s["current"] for s in document["sessions"]] == [True]
    assert [e["type"] for e in document["events"]][-1] == "user.created"
    assert document["identities"] == []
    assert document["passkeys"] == []
    assert document["organizations"] == []


def test_the_export_holds_no_secret_hash_code_or_key(
    client, clock, services, stream, dynamodb, settings
):
    enrolled = enrol(client, clock)  # an authenticator app and its recovery codes
    stream.consume(services)
    body = export(client, enrolled.token).body
    body = body if isinstance(body, str) else body.decode()
    document = json.loads(body)
    assert document["user"]["authenticator_app"] is True
    assert document["user"]["recovery_codes_left"] == 10
    assert PASSWORD not in body
    for item in table_items(dynamodb, settings.table_name):
        for name, value in item.items():
            if name in ("pk", "user_id", "session_user_id", "event_user_id"):
                continue
            text = value.get("S")
            # Every stored secret, digest and hash (32 characters or more) stays out.
            if text and len(text) >= 32 and re.fullmatch(r"[\w$+/=.:,-]+", text):
                assert text not in body, name


def test_an_export_is_audited_and_makes_an_event(client, services, stream, audit):
    token = sign_up(client)
    user_id = user_id_of(client, token)
    stream.consume(services)
    audit.lines.clear()
    assert export(client, token).status_code == 200
    assert [(line["event"], line["user_id"]) for line in audit.lines] == [
        ("data_exported", user_id)
    ]
    stream.consume(services)
    (newest,) = services.store.events.of_user(user_id, limit=1)
    assert newest.type == "user.data_exported"


def test_exports_are_limited_per_user(client, services):
    token = sign_up(client)
    for _ in range(DATA_EXPORTS.max):
        assert export(client, token).status_code == 200
    refused = export(client, token)
    assert_error(refused, 429, "too_many_attempts")
    assert int(refused.headers["Retry-After"]) > 0


def test_only_the_signed_in_owner_exports(client, clock, services):
    assert_error(export(client, None), 401, "unauthenticated")
    admin = admin_session(client, clock, services)
    bob = user_id_of(client, sign_up(client, BOB))
    response = call(client, "POST", f"/admin/users/{bob}/impersonate", {"reason": "x"}, admin)
    assert_error(export(client, session_token(response)), 403, "impersonation_forbidden")


def test_the_export_names_the_users_organizations_and_roles(client, services):
    token = sign_up(client)
    created = call(client, "POST", "/orgs", {"name": "Acme", "slug": "acme"}, token)
    assert created.status_code == 201, created.body
    document = json.loads(export(client, token).body)
    (org,) = document["organizations"]
    assert (org["name"], org["slug"], org["role"]) == ("Acme", "acme", "owner")
