"""Events on moto: what each change makes, read from the table's own stream through the
consumer; numbered per user with no gap and no repeat however often a record comes; nothing
secret in any; kept and shown (GET /auth/events, the admin's view) for EVENT_RETENTION."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from chalicelib.events import EVENT_TYPES, consumer
from chalicelib.events.derive import event_id, events_of
from chalicelib.store.events import EventItems
from tests.conftest import table_items
from tests.helpers import (
    ANN,
    BOB,
    PASSWORD,
    MotoStream,
    assert_error,
    call,
    log_in,
    session_token,
    sign_up,
)
from tests.test_admin import admin_session, reauthenticate, user_id_of
from tests.test_two_factor import enrol

ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
NEW_PASSWORD = "a different horse battery"
# A sign-up whose address is verified with the mailed code: that rotates its session.
A_VERIFIED_SIGN_UP = [
    "user.created",
    "session.created",
    "user.email_verified",
    "session.revoked",
    "session.created",
]


@pytest.fixture
def stream(settings, clock, dynamodb):
    return MotoStream(settings.table_name, clock)


def events_of_user(services, user_id):
    """The user's events, oldest first, as stored."""
    return list(reversed(services.store.events.of_user(user_id, limit=100)))


def types_of(services, user_id):
    return [event.type for event in events_of_user(services, user_id)]


def test_a_sign_up_is_the_account_then_its_session_numbered_from_one(
    client, services, stream, settings
):
    token = sign_up(client, verified=False)
    user_id = user_id_of(client, token)
    stream.consume(services)
    events = events_of_user(services, user_id)
    assert [(e.type, e.seq) for e in events] == [("user.created", 1), ("session.created", 2)]
    created, session = events
    assert created.data == {"email": ANN, "email_verified": False, "has_password": True}
    assert session.data["method"] == "password"
    assert session.data["amr"] == ["pwd"]
    assert session.data["rotated"] is False
    assert all(ULID.fullmatch(e.id) for e in events)


def test_each_change_makes_its_event_and_rehashing_a_password_makes_none(
    client, services, stream, stage, clock
):
    token = sign_up(client)  # verified with the mailed code: the session rotates
    user_id = user_id_of(client, token)
    stream.consume(services)
    assert types_of(services, user_id) == A_VERIFIED_SIGN_UP
    # A deploy raises Argon2's cost: the next login rehashes, and that changes no password.
    services = stage(argon2_time_cost=2)
    assert log_in(client).status_code == 200
    changed = call(
        client,
        "POST",
        "/auth/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        token=token,
    )
    assert changed.status_code == 200, changed.body
    stream.consume(services)
    types = types_of(services, user_id)[5:]
    assert types.count("user.password_changed") == 1
    assert types[0] == "session.created"  # the login; no password event before the change
    password_event = next(
        e for e in events_of_user(services, user_id) if e.type == "user.password_changed"
    )
    assert password_event.data == {"action": "changed"}


def test_two_factor_roles_ban_and_deletion_are_events_and_sessions_end_with_them(
    client, services, stream, clock
):
    admin = admin_session(client, clock, services)  # ann: an admin with an authenticator app
    bob = sign_up(client, BOB)
    bob_id = user_id_of(client, bob)
    stream.consume(services)
    ann_id = user_id_of(client, admin)
    assert "user.two_factor_enabled" in types_of(services, ann_id)
    assert "user.roles_changed" in types_of(services, ann_id)
    before = len(events_of_user(services, bob_id))

    banned = call(
        client, "POST", f"/admin/users/{bob_id}/ban", {"reason": "spam", "until": None}, admin
    )
    assert banned.status_code == 200, banned.body
    unbanned = call(client, "POST", f"/admin/users/{bob_id}/unban", {}, admin)
    assert unbanned.status_code == 204, unbanned.body
    stream.consume(services)
    later = events_of_user(services, bob_id)[before:]
    assert [e.type for e in later] == ["user.banned", "session.revoked", "user.unbanned"]
    assert later[0].data == {"until": None, "reason": "spam", "banned_by": ann_id}

    bob = session_token(log_in(client, BOB))
    assert call(client, "DELETE", "/auth/account", {"password": PASSWORD}, bob).status_code == 204
    stream.consume(services)
    assert types_of(services, bob_id)[-3:] == ["session.created", "session.revoked", "user.deleted"]


def test_an_impersonation_names_the_admin_who_started_it(client, services, stream, clock):
    admin = admin_session(client, clock, services)
    admin_id = user_id_of(client, admin)
    bob_id = user_id_of(client, sign_up(client, BOB))
    reauthenticate(client, admin)
    started = call(
        client, "POST", f"/admin/users/{bob_id}/impersonate", {"reason": "ticket 7"}, admin
    )
    assert started.status_code == 200, started.body
    stream.consume(services)
    last_two = events_of_user(services, bob_id)[-2:]
    assert [e.type for e in last_two] == ["session.created", "impersonation.started"]
    assert last_two[0].data["method"] == "impersonation"
    assert last_two[1].data["impersonator_id"] == admin_id
    assert last_two[1].data["impersonator_email"] == ANN


def test_no_event_holds_a_secret(client, services, stream, clock, dynamodb, settings):
    enrolled = enrol(client, clock)
    token = enrolled.token
    stream.consume(services)
    claim = next(
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"] == f"EMAIL#{ANN}"
    )
    user = next(
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith("USER#")
    )
    secrets = [
        PASSWORD,
        token,
        claim["password_hash"]["S"],
        enrolled.secret,
        *enrolled.recovery_codes,
    ]
    secrets += [user["totp_secret"]["S"], *user["recovery_codes"]["SS"]]
    secrets += [
        i["pk"]["S"].removeprefix("SESSION#")
        for i in table_items(dynamodb, settings.table_name)
        if i["pk"]["S"].startswith("SESSION#")
    ]
    stored = [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith("EVENT#")
    ]
    assert stored
    text = json.dumps(stored)
    for secret in secrets:
        assert secret not in text


def test_a_record_processed_again_finds_its_events_and_numbers_nothing_twice(
    client, services, stream
):
    sign_up(client, verified=False)
    records = stream.records()
    assert consumer.consume(services, records) == {"batchItemFailures": []}
    first = [
        i
        for i in table_items(services.client, services.settings.table_name)
        if i["pk"]["S"].startswith("EVENT")
    ]
    assert consumer.consume(services, records) == {"batchItemFailures": []}
    again = [
        i
        for i in table_items(services.client, services.settings.table_name)
        if i["pk"]["S"].startswith("EVENT")
    ]
    assert sorted(map(json.dumps, first)) == sorted(map(json.dumps, again))


def test_a_consumer_that_fails_mid_batch_names_the_first_record_left_and_loses_nothing(
    client, services, stream, monkeypatch
):
    token = sign_up(client)
    user_id = user_id_of(client, token)
    records = stream.records()
    real = EventItems.record
    calls = {"n": 0}

    def crash_on_the_third(self, event, expires_at, with_it=()):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("the container died")
        return real(self, event, expires_at, with_it)

    monkeypatch.setattr(EventItems, "record", crash_on_the_third)
    answer = consumer.consume(services, records)
    (failure,) = answer["batchItemFailures"]
    sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
    monkeypatch.setattr(EventItems, "record", real)
    # Lambda retries from the record named, in the stream's order.
    retried = records[sequences.index(failure["itemIdentifier"]) :]
    assert consumer.consume(services, retried) == {"batchItemFailures": []}
    events = events_of_user(services, user_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert types_of(services, user_id) == A_VERIFIED_SIGN_UP


def test_a_sign_up_that_fails_in_the_store_writes_no_event(client, services, stream, monkeypatch):
    def refuse(**_):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "InternalServerError"}}, "TransactWriteItems")

    monkeypatch.setattr(services.client, "transact_write_items", refuse)
    response = call(client, "POST", "/auth/signup", {"email": ANN, "password": PASSWORD})
    assert_error(response, 503, "service_unavailable")
    records = stream.records()
    assert not [
        r
        for r in records
        if r["dynamodb"]["Keys"]["pk"]["S"].startswith(("USER#", "SESSION#", "EMAIL#"))
    ]
    assert consumer.consume(services, records) == {"batchItemFailures": []}
    assert not [
        i
        for i in table_items(services.client, services.settings.table_name)
        if i["pk"]["S"].startswith("EVENT#")
    ]


def test_an_expired_session_removed_is_no_revocation(client, services, stream, clock):
    token = sign_up(client, verified=False)
    user_id = user_id_of(client, token)
    clock.advance(days=31)  # idle past SESSION_LIFETIME: the next request deletes it
    assert call(client, "GET", "/auth/session", token=token).status_code == 401
    stream.consume(services)
    assert types_of(services, user_id) == ["user.created", "session.created"]


def _record(name, pk, old=None, new=None, *, ttl=False, at=1_800_000_000):
    record = {
        "eventID": f"id-{pk}-{name}",
        "eventName": name,
        "dynamodb": {
            "Keys": {"pk": {"S": pk}},
            "ApproximateCreationDateTime": at,
            "SequenceNumber": "1",
        },
    }
    if old is not None:
        record["dynamodb"]["OldImage"] = old
    if new is not None:
        record["dynamodb"]["NewImage"] = new
    if ttl:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return record


def test_identities_and_passkeys_are_linked_and_removed_one_event_each():
    before = {
        "pk": {"S": "USER#u"},
        "email": {"S": ANN},
        "identities": {"SS": ["i1"]},
        "passkeys": {"SS": ["p1", "p2"]},
    }
    after = {
        "pk": {"S": "USER#u"},
        "email": {"S": ANN},
        "identities": {"SS": ["i2"]},
        "passkeys": {"SS": ["p2", "p3"]},
    }
    found = events_of(_record("MODIFY", "USER#u", before, after))
    assert [(d.type, d.data) for d in found] == [
        ("user.passkey_added", {"passkey_id": "p3"}),
        ("user.passkey_removed", {"passkey_id": "p1"}),
        ("user.identity_linked", {"identity_id": "i2"}),
        ("user.identity_unlinked", {"identity_id": "i1"}),
    ]
    assert len({d.id for d in found}) == 4
    assert found == events_of(_record("MODIFY", "USER#u", before, after))  # the same ids again


def test_ttl_deletes_and_writes_of_other_items_make_no_event():
    session = {
        "pk": {"S": "SESSION#d"},
        "session_user_id": {"S": "u"},
        "session_id": {"S": "s"},
        "expires_at": {"N": "1900000000"},
    }
    assert events_of(_record("REMOVE", "SESSION#d", session, ttl=True)) == []
    assert [d.type for d in events_of(_record("REMOVE", "SESSION#d", session))] == [
        "session.revoked"
    ]
    assert (
        events_of(_record("INSERT", "THROTTLE#email#x", new={"pk": {"S": "THROTTLE#email#x"}}))
        == []
    )
    assert events_of(_record("INSERT", "EVENT#x", new={"pk": {"S": "EVENT#x"}})) == []


def test_event_ids_sort_by_time():
    assert event_id(1_000, "b") < event_id(2_000, "a")
    assert event_id(1_000, "a") != event_id(1_000, "b")
    assert set(EVENT_TYPES) >= {"user.created", "session.revoked", "impersonation.started"}


# -- reading them -------------------------------------------------------------------------


def test_the_user_reads_their_own_events_newest_first_a_page_at_a_time(client, services, stream):
    token = sign_up(client)
    stream.consume(services)
    first = call(client, "GET", "/auth/events?limit=2", token=token)
    assert first.status_code == 200, first.body
    body = first.json_body
    assert [e["seq"] for e in body["events"]] == [5, 4]
    assert set(body["events"][0]) == {"id", "type", "occurred_at", "user_id", "seq", "data"}
    second = call(client, "GET", f"/auth/events?limit=2&cursor={body['next_cursor']}", token=token)
    assert [e["seq"] for e in second.json_body["events"]] == [3, 2]
    last = call(
        client, "GET", f"/auth/events?cursor={second.json_body['next_cursor']}", token=token
    )
    assert [e["seq"] for e in last.json_body["events"]] == [1]
    assert last.json_body["next_cursor"] is None
    assert call(client, "GET", "/auth/events").status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=x",
        "cursor=abc",
        "cursor=1e5",
        "cursor=" + "9" * 40,
    ],
)
def test_a_bad_page_is_400(client, query):
    token = sign_up(client, verified=False)
    assert_error(call(client, "GET", f"/auth/events?{query}", token=token), 400, "invalid_request")


def test_events_past_their_retention_are_not_shown(client, services, stream, clock):
    token = sign_up(client, verified=False)
    stream.consume(services)
    clock.advance(days=91)
    fresh = session_token(log_in(client))
    stream.consume(services)
    events = call(client, "GET", "/auth/events", token=fresh).json_body["events"]
    assert [e["type"] for e in events] == ["session.created"]
    stored = [
        i
        for i in table_items(services.client, services.settings.table_name)
        if i["pk"]["S"].startswith("EVENT#")
    ]
    # The table's TTL removes them: each carries its expiry.
    assert {int(i["expires_at"]["N"]) - int(i["occurred_at"]["N"]) // 1000 for i in stored} == {
        90 * 86400
    }
    del token


def test_an_auditor_reads_anyones_events_and_others_may_not(client, services, stream, clock):
    admin = admin_session(client, clock, services)
    bob = sign_up(client, BOB)
    bob_id = user_id_of(client, bob)
    stream.consume(services)
    assert_error(
        call(client, "GET", f"/admin/users/{bob_id}/events", token=bob),
        403,
        "insufficient_permissions",
    )
    seen = call(client, "GET", f"/admin/users/{bob_id}/events", token=admin)
    assert seen.status_code == 200, seen.body
    assert [e["type"] for e in seen.json_body["events"]][-1] == "user.created"
    assert_error(
        call(client, "GET", "/admin/users/not-an-id/events", token=admin), 404, "not_found"
    )


def test_retention_is_a_setting_of_at_least_a_day(settings):
    from chalicelib.config import ConfigError, Settings

    assert Settings.from_env({"EVENT_RETENTION": "30d"}).event_retention.days == 30
    with pytest.raises(ConfigError):
        replace(settings, event_retention=replace(settings).event_retention * 0)


def test_the_settings_page_lists_recent_security_activity(client, services, stream):
    token = sign_up(client)
    before = client.http.get("/settings", headers={"Cookie": f"auth_session={token}"})
    assert "Nothing yet" in before.body.decode()
    stream.consume(services)
    page = client.http.get("/settings", headers={"Cookie": f"auth_session={token}"}).body.decode()
    section = page.split('id="activity-heading"', 1)[1].split("</section>", 1)[0]
    assert [
        line.split("<strong>")[1].split("</strong>")[0] for line in section.split("<li>")[1:]
    ] == [
        "Session renewed",
        "Signed out",
        "Email address verified",
        "Signed in",
        "Account created",
    ]


HOSTILE_REPLAYS = [
    {},
    {"since": None, "url": None},
    {"since": 1, "url": ["x"]},
    {"since": {"$gt": ""}, "url": "x"},
    {"since": "2027-01-15T08:00:00Z"},
    {"since": "2027-01-15T08:00:00Z", "url": "x" * 100_000},
    {"since": "9" * 5000, "url": "https://hooks.example.com/"},
    {"since": "2027-13-45T99:99:99Z", "url": "https://hooks.example.com/"},
    {"since": "0001-01-01T00:00:00+23:59", "url": "https://hooks.example.com/"},
    {"since": "\u0000", "url": "\u202e"},
]


@pytest.mark.parametrize("body", HOSTILE_REPLAYS)
def test_hostile_replays_and_event_queries_get_a_4xx(client, services, clock, body):
    admin = admin_session(client, clock, services)
    reauthenticate(client, admin)
    response = call(client, "POST", "/admin/events/replay", body, admin)
    assert 400 <= response.status_code < 500, response.body
    assert set(response.json_body) == {"error"}
    user_id = user_id_of(client, admin)
    for query in ("limit=1e3", "cursor=-1", "cursor=%00", "limit=" + "9" * 50, "cursor=٣"):
        answer = call(client, "GET", f"/admin/users/{user_id}/events?{query}", token=admin)
        assert answer.status_code == 400, (query, answer.body)
    for path in ("/admin/users/%2e%2e/events", "/admin/users/" + "a" * 300 + "/events"):
        assert call(client, "GET", path, token=admin).status_code == 404
