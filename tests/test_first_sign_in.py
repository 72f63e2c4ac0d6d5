"""The first sign-in of a user brought from another system: an imported hash is upgraded to our
Argon2id in the session's own write, once, with an event; a failed check waits out the slowest
verifier the stage holds; and migration on first sign-in (MIGRATE_FROM_URL) asks the team's
endpoint for users the team could not export."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import bcrypt
import pytest

from chalicelib import imports, runtime
from chalicelib.passwords import PasswordHasher
from chalicelib.store.imports import HASH_FORMATS_PK
from devtools import users as users_cli
from tests.conftest import table_items
from tests.helpers import ANN, PASSWORD, MotoStream, assert_error, call, log_in
from tests.test_hooks import TeamEndpoint, endpoint  # noqa: F401 (the fixture)

BCRYPT_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()


@pytest.fixture
def stream(settings, clock, dynamodb):
    return MotoStream(settings.table_name, clock)


@pytest.fixture
def imported(tmp_path, services, settings, clock, capsys):
    """Import users in our own format through `python -m devtools.users import`."""

    def run(*records):
        path = tmp_path / "users.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        code = users_cli.main(
            ["import", str(path), "--stage", "test"],
            opened=lambda stage, workers: (settings, services.store),
            clock=clock,
        )
        assert code == 0, capsys.readouterr().out
        capsys.readouterr()

    return run


def bcrypt_user(email=ANN, source_id="auth0|1"):
    return {
        "email": email,
        "email_verified": True,
        "source_id": source_id,
        "password": {"format": "bcrypt", "hash": BCRYPT_HASH},
    }


def claim(dynamodb, settings, email=ANN):
    (found,) = [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"] == f"EMAIL#{email}"
    ]
    return found


def held(dynamodb, settings):
    (item,) = [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"] == HASH_FORMATS_PK
    ]
    return int(item["n_bcrypt"]["N"])


def test_the_first_sign_in_upgrades_an_imported_hash_in_the_sessions_write(
    client, services, imported, dynamodb, settings, calls, stream
):
    imported(bcrypt_user())
    assert json.loads(claim(dynamodb, settings)["password_hash"]["S"])["format"] == "bcrypt"
    stream.records()  # the import's own changes are not this test's
    assert held(dynamodb, settings) == 1
    calls.clear()
    response = log_in(client)
    assert response.status_code == 200, response.body
    # Two round trips, as any login: the read, and one transaction with the session and the
    # upgrade in it.
    assert calls.operations == ["BatchGetItem", "TransactWriteItems"]
    upgraded = claim(dynamodb, settings)
    assert upgraded["password_hash"]["S"].startswith("$argon2id$")
    assert upgraded["password_rehashed"]["BOOL"] is True
    stream.consume(services)
    events = services.store.events.of_user(upgraded["user_id"]["S"], limit=10)
    assert [(e.type, e.data) for e in events if e.type.startswith("user.password")] == [
        ("user.password_upgraded", {"from_format": "bcrypt"})
    ]
    assert held(dynamodb, settings) == 0  # counted down with the event, once
    # The same password, now under our hash; no second upgrade.
    assert log_in(client).status_code == 200
    assert claim(dynamodb, settings)["password_hash"] == upgraded["password_hash"]
    stream.consume(services)
    assert held(dynamodb, settings) == 0


def test_a_wrong_password_upgrades_nothing(client, imported, dynamodb, settings):
    imported(bcrypt_user())
    before = claim(dynamodb, settings)["password_hash"]["S"]
    assert_error(log_in(client, password="not the password"), 401, "invalid_credentials")
    assert claim(dynamodb, settings)["password_hash"]["S"] == before


def test_a_sign_in_that_lost_the_upgrade_to_a_parallel_one_goes_on(
    client, services, imported, dynamodb, settings
):
    """Two tabs: the other one's upgrade lands between this check and its write. This one
    signs in over that upgrade instead of writing its own (so it happens once)."""
    from tests.test_interleavings import after_the_check

    imported(bcrypt_user())
    store = services.store

    winner = []

    def the_other_tab_upgrades_first():
        (credentials,) = store.table.read(services.users.credentials(ANN))
        winner.append(services.users.hash_of_migrated(PASSWORD))
        store.table.commit(store.accounts.after_password(credentials, new_hash=winner[0]))

    after_the_check(services, the_other_tab_upgrades_first)
    response = log_in(client)
    assert response.status_code == 200, response.body
    assert claim(dynamodb, settings)["password_hash"]["S"] == winner[0]


def test_a_new_password_meanwhile_fails_the_sign_in_that_checked_the_old(
    client, services, imported, dynamodb, settings
):
    from tests.test_interleavings import after_the_check

    imported(bcrypt_user())
    store = services.store

    def a_reset_lands():
        (credentials,) = store.table.read(services.users.credentials(ANN))
        new = services.users.new_password_hash("a brand new passphrase")
        store.table.commit(store.accounts.update_claim(credentials.user_id, ANN, password_hash=new))

    after_the_check(services, a_reset_lands)
    assert_error(log_in(client), 401, "invalid_credentials")


# -- the timing of failures --------------------------------------------------------------------


def test_failures_wait_out_the_slowest_format_held_and_stop_once_none_is(
    client, stage, imported, dynamodb, settings, stream, clock
):
    waited: list[float] = []
    imported(bcrypt_user(), bcrypt_user("bo@example.com", "auth0|2"))
    imported({"email": "cy@example.com", "source_id": "x|3"})  # no password: a code user
    services = replace(stage(), pause=waited.append)
    runtime.use(services)
    slowest = services.users.failure_seconds()
    ours = PasswordHasher(settings)
    ours = ours.seconds_to_verify(ours.dummy_hash)
    assert slowest > ours  # bcrypt at cost 10 is slower than the test stage's Argon2
    for email, password in [
        ("nobody@example.com", PASSWORD),  # no account
        ("cy@example.com", PASSWORD),  # an account without a password
    ]:
        waited.clear()
        assert_error(log_in(client, email, password), 401, "invalid_credentials")
        (pause,) = waited
        # What our own (dummy) check left of the slowest verifier's time.
        assert 0 < pause < slowest
    waited.clear()
    assert_error(log_in(client, ANN, "not the password"), 401, "invalid_credentials")
    (pause,) = waited  # bcrypt's own check took (about) all of it
    assert pause < slowest - ours
    # Both bcrypt users upgrade; once the consumer has counted them down and the container's
    # read of the formats held is stale, failures are no longer padded.
    assert log_in(client).status_code == 200
    assert log_in(client, "bo@example.com").status_code == 200
    stream.consume(services)
    clock.advance(minutes=6)
    waited.clear()
    assert_error(log_in(client, "nobody@example.com"), 401, "invalid_credentials")
    assert all(pause <= 0 for pause in waited)


# -- migration on first sign-in ----------------------------------------------------------------


@pytest.fixture
def migrating(stage, endpoint):  # noqa: F811 (the fixture)
    services = stage(migrate_from_url=f"{endpoint}/migrate", hook_timeout=timedelta(seconds=2))
    return services


def asked():
    return [body for path, _, body in TeamEndpoint.asked if path == "/migrate"]


def test_a_password_the_old_system_vouches_for_makes_the_account_in_the_sign_in(
    client, migrating, dynamodb, settings, audit
):
    TeamEndpoint.answers["/migrate"] = (
        200,
        {
            "ok": True,
            "user": {
                "email_verified": True,
                "created_at": "2019-05-01T10:00:00Z",
                "roles": ["support"],
                "source_id": "us-east-1:0b5c",
            },
        },
        {},
    )
    response = log_in(client, ANN, "an old short pw")  # below our policy: it was theirs
    assert response.status_code == 200, response.body
    assert response.json_body["user"]["email_verified"] is True
    assert response.json_body["user"]["roles"] == ["support"]
    assert asked() == [{"email": ANN, "password": "an old short pw"}]
    stored = claim(dynamodb, settings)
    assert stored["password_hash"]["S"].startswith("$argon2id$")
    items = {i["pk"]["S"]: i for i in table_items(dynamodb, settings.table_name)}
    user = items[f"USER#{stored['user_id']['S']}"]
    assert user["created_at"]["N"] == "1556704800"
    assert items["SOURCE#us-east-1:0b5c"]["user_id"] == stored["user_id"]
    assert "user_migrated" in [line["event"] for line in audit.lines]
    # From now on the account is ours: the endpoint is not asked again.
    TeamEndpoint.asked.clear()
    assert log_in(client, ANN, "an old short pw").status_code == 200
    assert asked() == []


def test_a_password_the_old_system_refuses_is_a_wrong_password(
    client, migrating, dynamodb, settings
):
    TeamEndpoint.answers["/migrate"] = (200, {"ok": False}, {})
    assert_error(log_in(client), 401, "invalid_credentials")
    assert not [i for i in table_items(dynamodb, settings.table_name) if "EMAIL#" in i["pk"]["S"]]


@pytest.mark.parametrize(
    "answer",
    [
        (500, {"error": "down"}, {}),
        (200, {"ok": "yes"}, {}),
        (200, {"ok": True, "user": {"roles": ["no-such-role"]}}, {}),
    ],
    ids=["error", "not-a-boolean", "unknown-role"],
)
def test_an_endpoint_that_fails_fails_the_sign_in_and_is_audited(
    client, migrating, audit, dynamodb, settings, answer
):
    TeamEndpoint.answers["/migrate"] = answer
    assert_error(log_in(client), 401, "invalid_credentials")
    failed = [line for line in audit.lines if line["event"] == "hook_failed"]
    assert [line["hook"] for line in failed] == ["migrate_from"]
    assert not [i for i in table_items(dynamodb, settings.table_name) if "EMAIL#" in i["pk"]["S"]]


def test_an_endpoint_that_is_down_fails_the_sign_in(client, stage, audit):
    stage(migrate_from_url="http://127.0.0.1:9/nothing-listens")
    assert_error(log_in(client), 401, "invalid_credentials")
    assert [line["reason"] for line in audit.lines if line["event"] == "hook_failed"] == [
        "unreachable"
    ]


def test_migration_is_throttled_as_a_login(client, migrating):
    TeamEndpoint.answers["/migrate"] = (200, {"ok": False}, {})
    for _ in range(5):
        assert_error(log_in(client, ANN, "guess"), 401, "invalid_credentials")
    asked_before = len(asked())
    assert_error(log_in(client, ANN, "guess"), 429, "too_many_attempts")
    assert len(asked()) == asked_before  # a throttled attempt asks nothing


def test_an_emailed_code_sign_in_asks_with_the_address_alone(
    client, migrating, mailbox, dynamodb, settings
):
    TeamEndpoint.answers["/migrate"] = (200, {"ok": True, "user": {"roles": ["support"]}}, {})
    assert call(client, "POST", "/auth/login/code", {"email": ANN}).status_code == 202
    code = mailbox.code(ANN)
    response = call(client, "POST", "/auth/login/code/verify", {"email": ANN, "code": code})
    assert response.status_code in (200, 201), response.body
    assert asked() == [{"email": ANN}]
    assert response.json_body["user"]["roles"] == ["support"]
    assert response.json_body["user"]["email_verified"] is True
    assert "password_hash" not in claim(dynamodb, settings)


def test_a_code_sign_in_waits_for_an_endpoint_that_fails(client, migrating, mailbox):
    TeamEndpoint.answers["/migrate"] = (500, {}, {})
    assert call(client, "POST", "/auth/login/code", {"email": ANN}).status_code == 202
    code = mailbox.code(ANN)
    body = {"email": ANN, "code": code}
    assert_error(call(client, "POST", "/auth/login/code/verify", body), 503, "service_unavailable")
    # Nothing was used up: once the endpoint answers, the same code signs in.
    TeamEndpoint.answers["/migrate"] = (200, {"ok": True, "user": {}}, {})
    assert call(client, "POST", "/auth/login/code/verify", body).status_code in (200, 201)


def test_a_social_sign_in_with_a_proven_address_keeps_the_old_profile(
    client, migrating, dynamodb, settings
):
    from tests.test_hooks import social_sign_up

    TeamEndpoint.answers["/migrate"] = (200, {"ok": True, "user": {"roles": ["support"]}}, {})
    response = social_sign_up(client, migrating, ANN, "text/html")
    assert response.status_code == 303, response.body  # signed in, on to the next page
    assert asked() == [{"email": ANN}]
    stored = claim(dynamodb, settings)
    assert stored["role_names"] == {"SS": ["support"]}
    items = {i["pk"]["S"]: i for i in table_items(dynamodb, settings.table_name)}
    (identity,) = [i for pk, i in items.items() if pk.startswith("IDENTITY#")]
    assert identity["user_id"] == stored["user_id"]
    assert identity["issuer"]["S"] == "https://github.com"


def test_two_first_sign_ins_at_once_make_one_account_and_both_sign_in(
    client, migrating, services, dynamodb, settings
):
    """The other tab's migration commits between this one's answer and its write: this one
    signs in to the account the other made."""
    TeamEndpoint.answers["/migrate"] = (200, {"ok": True, "user": {"source_id": "c|1"}}, {})
    migration = migrating.migration
    real_ask = migration.ask

    def the_other_tab_first(email, password, failed):
        answer = real_ask(email, password, failed)
        migration.ask = real_ask
        # What the other tab's sign-in commits: the same user, made from the same answer.
        other = imports.parse(
            {"email": email, "source_id": "c|1", "password": None}, settings=settings, now=0
        )
        hashed = services.users.hash_of_migrated(password)
        store = services.store
        store.table.commit(*imports.writes(store, other._replace(password=hashed), None, 0))
        return answer

    migration.ask = the_other_tab_first
    response = log_in(client)
    assert response.status_code == 200, response.body
    accounts = [i for i in table_items(dynamodb, settings.table_name) if "USER#" in i["pk"]["S"]]
    assert len(accounts) == 1
    assert response.json_body["user"]["id"] == accounts[0]["pk"]["S"].removeprefix("USER#")
