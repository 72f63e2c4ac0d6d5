from dataclasses import replace
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from chalicelib.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidEmail,
    InvalidPassword,
    ServiceUnavailable,
)
from chalicelib.passwords import PasswordHasher
from chalicelib.sessions import SessionManager
from chalicelib.store.accounts import UserRecord
from chalicelib.users import User, Users, normalize_email
from tests.conftest import table_items
from tests.helpers import PASSWORD


@pytest.fixture
def hasher(settings) -> PasswordHasher:
    return PasswordHasher(settings)


@pytest.fixture
def accounts(store, hasher, clock) -> Users:
    return Users(store, hasher, clock)


@pytest.fixture
def sessions(store, settings, clock) -> SessionManager:
    return SessionManager(store, settings, clock)


def sign_up(accounts, sessions, email, password) -> User:
    """What a sign-up stores (flows.signin): the account, in one write with its first session."""
    user, writes = accounts.register(normalize_email(email), accounts.new_password_hash(password))
    sessions.create_session(user, writes=writes)
    return user


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@example.com", "ann@example.com"),
        ("  Ann@Example.COM \t", "ann@example.com"),
        ("ann+tag@sub.example.org", "ann+tag@sub.example.org"),
        ("josé@exämple.de", "josé@exämple.de"),
    ],
)
def test_emails_are_normalised_for_comparison(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "ann", "ann@", "@example.com", "ann@@example.com", "ann@exa mple.com",
     "a" * 10_000 + "@example.com", "ann@example.com\x00"],
)  # fmt: skip
def test_invalid_emails_are_refused(raw):
    with pytest.raises(InvalidEmail):
        normalize_email(raw)


def test_sign_up_stores_user_claim_and_session_in_one_write(
    accounts, sessions, dynamodb, settings, calls
):
    user = sign_up(accounts, sessions, " Ann@Example.com ", PASSWORD)
    assert calls.operations == ["TransactWriteItems"]
    assert user.email == "ann@example.com"
    items = {item["pk"]["S"]: item for item in table_items(dynamodb, settings.table_name)}
    assert {pk.split("#")[0] for pk in items} == {"USER", "EMAIL", "SESSION"}
    assert {f"USER#{user.id}", "EMAIL#ann@example.com"} < set(items)
    claim = items["EMAIL#ann@example.com"]
    assert claim["user_id"] == {"S": user.id}
    # The claim is the login view: the hash (only there) and the flags a session copies.
    assert claim["password_hash"]["S"].startswith("$argon2id$")
    assert (claim["email_verified"], claim["two_factor"]) == ({"BOOL": False}, {"BOOL": False})
    stored = items[f"USER#{user.id}"]
    assert stored["email"] == {"S": "ann@example.com"}
    assert "password_hash" not in stored
    assert (stored["email_verified"], stored["two_factor"]) == ({"BOOL": False}, {"BOOL": False})
    assert PASSWORD not in str(items)


@pytest.mark.parametrize("again", ["ann@example.com", "ANN@EXAMPLE.COM", "  Ann@example.com  "])
def test_an_email_can_register_once_whatever_its_case(
    accounts, sessions, dynamodb, settings, again
):
    sign_up(accounts, sessions, "ann@example.com", PASSWORD)
    before = table_items(dynamodb, settings.table_name)
    with pytest.raises(EmailTaken):
        sign_up(accounts, sessions, again, "another password")
    assert table_items(dynamodb, settings.table_name) == before


def test_sign_up_checks_the_password_policy_before_writing(accounts, sessions, dynamodb, settings):
    with pytest.raises(InvalidPassword):
        sign_up(accounts, sessions, "ann@example.com", "short")
    assert table_items(dynamodb, settings.table_name) == []


def test_authenticate_returns_the_user(accounts, sessions):
    created = sign_up(accounts, sessions, "ann@example.com", PASSWORD)
    assert accounts.authenticate(" ANN@example.com", PASSWORD) == (created, None)


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("ann@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("not an email", PASSWORD),
        ("ann@example.com", "x" * 300),
    ],
)
def test_unknown_email_and_wrong_password_are_indistinguishable(
    accounts, sessions, hasher, email, password
):
    sign_up(accounts, sessions, "ann@example.com", PASSWORD)
    with (
        mock.patch.object(hasher, "verify", wraps=hasher.verify) as verify,
        pytest.raises(InvalidCredentials) as raised,
    ):
        accounts.authenticate(email, password)
    assert (raised.value.status, raised.value.code) == (401, "invalid_credentials")
    assert verify.call_count == 1  # an Argon2 verification runs on every path


def test_login_rehashes_an_outdated_hash(store, sessions, clock, dynamodb, settings):
    old = Users(store, PasswordHasher(replace(settings, argon2_time_cost=3)), clock)
    user = sign_up(old, sessions, "ann@example.com", PASSWORD)
    current = Users(store, PasswordHasher(settings), clock)
    authenticated, new_hash = current.authenticate("ann@example.com", PASSWORD)
    assert authenticated == user
    assert new_hash is not None  # the re-hash, for the login to commit with its session
    (credentials,) = store.table.read(current.credentials("ann@example.com"))
    store.table.commit(store.accounts.after_password(credentials, new_hash=new_hash))
    items = {i["pk"]["S"]: i for i in table_items(dynamodb, settings.table_name)}
    assert items["EMAIL#ann@example.com"]["password_hash"]["S"].startswith(
        "$argon2id$v=19$m=1024,t=1,p=1$"
    )
    assert current.authenticate("ann@example.com", PASSWORD) == (user, None)


def test_concurrent_signup_conflict_is_retried_then_reported_as_taken(sessions, store, dynamodb):
    winner = User(id="winner", email="ann@example.com")
    loser = User(id="loser", email="ann@example.com")
    conflict = ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
            "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
        },
        "TransactWriteItems",
    )
    real = dynamodb.transact_write_items
    attempts = []

    def conflicting_then_real(**kwargs):
        attempts.append(kwargs)
        if len(attempts) == 1:
            sessions.create_session(winner, writes=new_account(store, winner))
            raise conflict
        return real(**kwargs)

    with (
        mock.patch.object(dynamodb, "transact_write_items", side_effect=conflicting_then_real),
        pytest.raises(EmailTaken),
    ):
        sessions.create_session(loser, writes=new_account(store, loser))
    assert len(attempts) == 3  # the loser's 2 tries, and the winner's one inside


def new_account(store, user):
    return store.accounts.create(UserRecord(user.id, user.email, False, False, 1), "hash")


def test_store_failure_is_reported_as_unavailable_not_as_bad_credentials(accounts, dynamodb):
    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        "GetItem",
    )
    with (
        mock.patch.object(dynamodb, "get_item", side_effect=throttled),
        pytest.raises(ServiceUnavailable) as raised,
    ):
        accounts.authenticate("ann@example.com", PASSWORD)
    assert raised.value.status == 503
    assert raised.value.headers() == {"Retry-After": "1"}
