import hashlib
import json

import pytest

from chalicelib.sessions import ActiveOrganization, SessionManager, token_digest
from chalicelib.users import User
from tests.conftest import START, table_items

DAY = 86400
ANN = User(id="user-ann", email="ann@example.com")
BOB = User(id="user-bob", email="bob@example.com")


@pytest.fixture
def sessions(store, settings, clock) -> SessionManager:
    return SessionManager(store, settings, clock)


def test_create_session_stores_only_a_digest_of_a_256_bit_token(sessions, dynamodb, settings):
    token, session = sessions.create_session(ANN, user_agent="Firefox", ip="203.0.113.9")
    assert len(token) == 43  # 32 random bytes, URL-safe base64
    items = table_items(dynamodb, settings.table_name)
    assert len(items) == 1
    item = items[0]
    assert item["pk"] == {"S": "SESSION#" + hashlib.sha256(token.encode()).hexdigest()}
    assert token not in json.dumps(items)
    assert item["expires_at"] == {"N": str(START + 30 * DAY)}
    assert item["absolute_expires_at"] == {"N": str(START + 90 * DAY)}
    assert item["user_agent"] == {"S": "Firefox"}
    assert item["ip"] == {"S": "203.0.113.9"}
    assert session.fresh is True
    assert session.user == ANN
    assert session.expires_at == START + 30 * DAY
    assert session.id not in token


def test_tokens_and_public_ids_are_unique(sessions):
    created = [sessions.create_session(ANN) for _ in range(20)]
    assert len({token for token, _ in created}) == 20
    assert len({session.id for _, session in created}) == 20


def test_steady_state_validation_is_one_consistent_read_and_no_write(sessions, calls, clock):
    token, created = sessions.create_session(ANN)
    clock.advance(minutes=59)
    calls.clear()
    session = sessions.validate_session(token)
    assert session is not None
    assert session.user == ANN
    assert session.fresh is False
    assert session.expires_at == created.expires_at
    assert calls.operations == ["GetItem"]
    assert calls.calls[0][1]["ConsistentRead"] is True


def test_expired_session_is_rejected_on_read_and_deleted(
    sessions, calls, clock, dynamodb, settings
):
    token, _ = sessions.create_session(ANN)
    clock.advance(days=30)  # now == expires_at: DynamoDB's TTL has not deleted it yet
    calls.clear()
    assert sessions.validate_session(token) is None
    assert calls.operations == ["GetItem", "DeleteItem"]
    assert table_items(dynamodb, settings.table_name) == []


def test_session_is_valid_until_the_last_second(sessions, clock):
    token, _ = sessions.create_session(ANN)
    clock.advance(days=30, seconds=-1)
    assert sessions.validate_session(token) is not None


def test_no_extension_while_half_the_lifetime_remains(sessions, calls, clock):
    token, created = sessions.create_session(ANN)
    clock.advance(days=15)  # exactly half remains
    calls.clear()
    session = sessions.validate_session(token)
    assert session.fresh is False
    assert session.expires_at == created.expires_at
    assert calls.writes == ["UpdateItem"]  # last_used_at only: it was over an hour old


def test_last_use_is_recorded_at_most_once_an_hour(sessions, calls, clock, dynamodb, settings):
    token, _ = sessions.create_session(ANN)
    clock.advance(minutes=59)
    calls.clear()
    sessions.validate_session(token)
    assert calls.writes == []
    clock.advance(minutes=1)
    sessions.validate_session(token)
    assert calls.writes == ["UpdateItem"]
    (item,) = table_items(dynamodb, settings.table_name)
    assert item["last_used_at"] == {"N": str(clock.now())}
    assert item["expires_at"] == {"N": str(START + 30 * DAY)}
    calls.clear()
    clock.advance(minutes=59)
    sessions.validate_session(token)
    assert calls.writes == []


def test_extends_when_less_than_half_remains(sessions, calls, clock, dynamodb, settings):
    token, _ = sessions.create_session(ANN)
    clock.advance(days=15, seconds=1)
    calls.clear()
    session = sessions.validate_session(token)
    assert session.fresh is True
    assert session.expires_at == clock.now() + 30 * DAY
    assert calls.operations == ["GetItem", "UpdateItem"]
    (item,) = table_items(dynamodb, settings.table_name)
    assert item["expires_at"] == {"N": str(clock.now() + 30 * DAY)}
    # The next request sees the new expiry and does not write again.
    calls.clear()
    again = sessions.validate_session(token)
    assert again.fresh is False
    assert calls.writes == []


def test_sliding_never_passes_the_absolute_lifetime(sessions, clock):
    token, _ = sessions.create_session(ANN)
    expiries = []
    for _ in range(5):
        clock.advance(days=16)
        session = sessions.validate_session(token)
        assert session is not None
        expiries.append(session.expires_at)
    assert max(expiries) == START + 90 * DAY
    assert expiries[-1] == START + 90 * DAY
    clock.t = START + 90 * DAY - 1
    assert sessions.validate_session(token) is not None
    clock.t = START + 90 * DAY
    assert sessions.validate_session(token) is None


def test_at_the_cap_validation_stops_writing(sessions, calls, clock):
    token, _ = sessions.create_session(ANN)
    for _ in range(4):
        clock.advance(days=16)
        sessions.validate_session(token)
    clock.advance(days=20)  # 84 days in: less than half left, but already capped at day 90
    sessions.validate_session(token)
    clock.advance(minutes=30)
    calls.clear()
    session = sessions.validate_session(token)
    assert session.fresh is False
    assert session.expires_at == START + 90 * DAY
    assert calls.writes == []


def test_extension_does_not_resurrect_a_session_deleted_meanwhile(
    sessions, store, clock, dynamodb, settings
):
    token, _ = sessions.create_session(ANN)
    clock.advance(days=20)
    real_get = store.sessions.get

    def get_then_logout(digest):
        record = real_get(digest)
        store.sessions.remove(digest)  # a concurrent logout lands between read and write
        return record

    store.sessions.get = get_then_logout
    assert sessions.validate_session(token) is None
    assert table_items(dynamodb, settings.table_name) == []


@pytest.mark.parametrize("token", ["", "short", "A" * 44, "A" * 42 + "!", "é" * 43])
def test_malformed_tokens_are_rejected_without_a_store_call(sessions, calls, token):
    assert sessions.validate_session(token) is None
    sessions.invalidate_session(token)
    assert calls.operations == []


def test_unknown_token_is_rejected(sessions):
    assert sessions.validate_session("B" * 43) is None


def test_invalidate_session_deletes_it_at_once(sessions, dynamodb, settings):
    token, _ = sessions.create_session(ANN)
    other, _ = sessions.create_session(ANN)
    sessions.invalidate_session(token)
    assert sessions.validate_session(token) is None
    assert sessions.validate_session(other) is not None
    assert len(table_items(dynamodb, settings.table_name)) == 1


def test_invalidate_user_sessions_removes_every_session_of_that_user_only(sessions, calls):
    ann_tokens = [sessions.create_session(ANN)[0] for _ in range(30)]  # > one batch of 25
    bob_token, _ = sessions.create_session(BOB)
    calls.clear()
    sessions.invalidate_user_sessions(ANN.id)
    assert "Scan" not in calls.operations
    assert calls.operations[0] == "Query"
    assert all(sessions.validate_session(t) is None for t in ann_tokens)
    assert sessions.validate_session(bob_token) is not None


def test_a_second_factor_is_owed_by_one_rule_in_one_place():
    """Once computed in three places (the request context, the pages, the social callback)."""
    import ast
    from pathlib import Path

    from chalicelib.sessions import Session
    from chalicelib.users import User

    owing = Session("s", User("u", "a@b.example", two_factor_enabled=True), 0, 1, False)
    assert owing.second_factor_owed is True
    assert owing._replace(two_factor_verified=True).second_factor_owed is False
    assert (
        owing._replace(user=owing.user._replace(two_factor_enabled=False)).second_factor_owed
        is False
    )
    recomputed = []
    for path in (Path(__file__).parent.parent / "chalicelib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
                names = {
                    a.attr
                    for value in node.values
                    for a in ast.walk(value)
                    if isinstance(a, ast.Attribute)
                }
                if {"two_factor_enabled", "two_factor_verified"} <= names:
                    recomputed.append(path.name)
    assert recomputed == ["sessions.py"]  # Session.second_factor_owed, and nowhere else


def test_a_session_working_in_an_organization_is_still_one_read_that_carries_it(
    sessions, store, calls, clock
):
    token, _ = sessions.create_session(ANN)
    store.table.commit(store.sessions.set_organization(token_digest(token), "org-1", "editor"))
    clock.advance(minutes=59)
    calls.clear()
    session = sessions.validate_session(token)
    assert session is not None
    assert session.organization == ActiveOrganization("org-1", "editor")
    assert calls.operations == ["GetItem"]
    store.table.commit(store.sessions.set_organization(token_digest(token), None, ""))
    assert sessions.validate_session(token).organization is None


def test_a_membership_change_reaches_only_the_sessions_working_in_that_organization(
    sessions, store
):
    def working_in(user, org_id):
        token, _ = sessions.create_session(user)
        if org_id is not None:
            store.table.commit(
                store.sessions.set_organization(token_digest(token), org_id, "admin")
            )
        return token

    in_org, elsewhere, in_none = (
        working_in(ANN, "org-1"),
        working_in(ANN, "org-2"),
        working_in(ANN, None),
    )
    bobs = working_in(BOB, "org-1")

    def organization(token):
        return sessions.validate_session(token).organization

    assert sessions.set_org_role(ANN.id, "org-1", "member") == 1
    assert organization(in_org) == ActiveOrganization("org-1", "member")
    assert organization(elsewhere) == ActiveOrganization("org-2", "admin")
    assert organization(in_none) is None
    assert organization(bobs) == ActiveOrganization("org-1", "admin")  # another user's
    assert sessions.set_org_role(ANN.id, "org-1", None) == 1  # removed: in none from now on
    assert organization(in_org) is None
    assert organization(elsewhere) == ActiveOrganization("org-2", "admin")
    assert sessions.set_org_role(ANN.id, "org-1", None) == 0  # nothing left to change
