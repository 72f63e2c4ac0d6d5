"""Storage faults: throttling, internal errors, timeouts and transaction conflicts, injected
under botocore in front of DynamoDB Local (moto's own botocore hook would still apply the
write a fault stands for). The service retries within its budget, then answers 503 with
Retry-After; never a 500 or a hang, never a signed-out user, never half-written state."""

import pytest
from botocore.retries.standard import ExponentialBackoff
from chalice.test import Client

from chalicelib.errors import ServiceUnavailable
from chalicelib.store import request_budget
from devtools.faults import FaultInjector
from tests import helpers
from tests.helpers import PASSWORD, call, session_token, set_cookies

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

NEW_PASSWORD = "a brand new passphrase"
KINDS = ["throttling", "internal", "timeout"]


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    """botocore's backoff is real sleeping; the number of attempts is what these tests check."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture
def faults(live_server):
    injector = FaultInjector(live_server.client)
    yield injector
    injector.clear()  # before the fixture below deletes the table


@pytest.fixture
def client(live_server):
    """The app in-process, on the live server's services (DynamoDB Local)."""
    from app import app

    with Client(app) as test_client:
        yield test_client


def sign_up(client) -> str:
    """On this suite's live services, whose mail goes to the outbox: unverified."""
    return helpers.sign_up(client, verified=False)


def log_in(client, password=PASSWORD, token=None):
    body = {"email": "ann@example.com", "password": password}
    return call(client, "POST", "/auth/login", body, token)


def assert_unavailable(response):
    assert response.status_code == 503
    assert response.json_body["error"]["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "1"
    # Nobody is signed out by a fault. (A browser the request made known before the fault
    # may keep its device cookie: that write was done.)
    assert [c for c in set_cookies(response.headers) if not c.startswith("device=")] == []


def snapshot(live_server):
    items = [i for i in live_server.items() if "THROTTLE" not in i["pk"]["S"]]
    return sorted(items, key=lambda i: i["pk"]["S"])


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_session_read_is_retried_then_503_and_keeps_the_cookie(client, faults, kind):
    token = sign_up(client)
    faults.inject(kind, "GetItem")
    response = call(client, "GET", "/trainings", token=token)
    assert_unavailable(response)
    assert faults.attempts["GetItem"] == 3  # standard retry mode, 3 attempts in all
    faults.clear()
    assert call(client, "GET", "/trainings", token=token).status_code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_a_transient_fault_is_absorbed_by_the_retries(client, faults, kind):
    token = sign_up(client)
    faults.inject(kind, "GetItem", times=2)
    assert call(client, "GET", "/trainings", token=token).status_code == 200
    assert faults.attempts["GetItem"] == 3


@pytest.mark.parametrize("kind", [*KINDS, "conflict"])
def test_a_failed_signup_leaves_nothing_behind(client, faults, kind, live_server):
    faults.inject(kind, "TransactWriteItems")
    response = call(
        client, "POST", "/auth/signup", {"email": "ann@example.com", "password": PASSWORD}
    )
    assert_unavailable(response)
    # No claim without a user, no user: nothing but the sign-up counted (every answer is).
    assert snapshot(live_server) == []
    faults.clear()
    sign_up(client)  # the email was not taken by the failure


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_login_sets_no_cookie_and_keeps_the_old_session(client, faults, kind, live_server):
    old = sign_up(client)
    before = snapshot(live_server)
    faults.inject(kind, "TransactWriteItems", "PutItem")
    for failed in (log_in(client, token=old), log_in(client)):
        assert_unavailable(failed)
        assert set_cookies(failed.headers) == []  # the device's write failed: no cookie either
    assert snapshot(live_server) == before
    faults.clear()
    assert call(client, "GET", "/trainings", token=old).status_code == 200


@pytest.mark.parametrize("kind", [*KINDS, "conflict"])
def test_a_failed_password_change_changes_nothing(client, faults, kind, live_server):
    current = sign_up(client)
    other = session_token(log_in(client))
    before = snapshot(live_server)
    faults.inject(kind, "TransactWriteItems")
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert_unavailable(call(client, "POST", "/auth/password", body, current))
    faults.clear()
    assert snapshot(live_server) == before
    assert call(client, "GET", "/trainings", token=current).status_code == 200
    assert call(client, "GET", "/trainings", token=other).status_code == 200
    assert log_in(client).status_code == 200


@pytest.mark.parametrize("kind", [*KINDS, "conflict"])
def test_a_failed_account_deletion_deletes_nothing(client, faults, kind, live_server):
    token = sign_up(client)
    before = snapshot(live_server)
    faults.inject(kind, "TransactWriteItems")
    assert_unavailable(call(client, "DELETE", "/auth/account", {"password": PASSWORD}, token))
    faults.clear()
    assert snapshot(live_server) == before
    assert call(client, "GET", "/trainings", token=token).status_code == 200


def test_a_failed_logout_says_so_and_does_not_pretend(client, faults):
    token = sign_up(client)
    faults.inject("internal", "DeleteItem")
    assert_unavailable(call(client, "POST", "/auth/logout", token=token))
    faults.clear()
    assert call(client, "POST", "/auth/logout", token=token).status_code == 204
    assert call(client, "GET", "/trainings", token=token).status_code == 401


def test_failure_counting_fails_closed(client, faults):
    """If a wrong password cannot be counted, the answer is 503, not a free extra guess."""
    sign_up(client)
    faults.inject("internal", "TransactWriteItems", "UpdateItem", "PutItem")
    assert_unavailable(log_in(client, password="wrong password"))


ROUTES = [
    ("POST", "/auth/signup", {"email": "bob@example.com", "password": PASSWORD}),
    ("POST", "/auth/login", {"email": "ann@example.com", "password": PASSWORD}),
    ("POST", "/auth/login", {"email": "ann@example.com", "password": "wrong password"}),
    ("POST", "/auth/logout", None),
    ("GET", "/auth/session", None),
    ("GET", "/auth/sessions", None),
    ("DELETE", "/auth/sessions", None),
    ("DELETE", "/auth/sessions/some-id", None),
    ("POST", "/auth/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    ("DELETE", "/auth/account", {"password": PASSWORD}),
    ("GET", "/trainings", None),
    ("POST", "/auth/email/verify", {"code": "ABCD2345"}),
    ("POST", "/auth/email/verify/resend", None),
    ("POST", "/auth/password-reset", {"email": "ann@example.com"}),
    (
        "POST",
        "/auth/password-reset/confirm",
        {"token": "0" * 36 + "." + "A" * 43, "new_password": NEW_PASSWORD},
    ),
    ("POST", "/auth/email", {"new_email": "bob@example.com", "password": PASSWORD}),
    ("POST", "/auth/email/confirm", {"code": "ABCD2345"}),
]


@pytest.mark.parametrize("kind", [*KINDS, "conflict"])
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_under_a_total_outage_every_route_answers_503_never_500(
    client, faults, kind, method, path, body
):
    token = sign_up(client)
    faults.clear()  # count this request's attempts only
    faults.inject(kind)
    response = call(client, method, path, body, token)
    assert_unavailable(response)
    assert faults.attempts.total() <= 3 * 2  # bounded: at most two calls' worth of attempts


def test_a_mail_that_cannot_be_sent_is_503_and_changes_nothing(client, live_server, monkeypatch):
    from chalicelib.mail import OutboxSender

    token = sign_up(client)
    monkeypatch.setattr(OutboxSender, "deliver", _refuse)
    before = snapshot(live_server)
    for method, path, body in [
        ("POST", "/auth/email/verify/resend", None),
        ("POST", "/auth/email", {"new_email": "bob@example.com", "password": PASSWORD}),
        ("POST", "/auth/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    ]:
        response = call(client, method, path, body, token)
        assert_unavailable(response)
    assert call(client, "GET", "/auth/session", token=token).status_code == 200
    # The password is unchanged (its notice goes first), and no address moved.
    assert log_in(client).status_code == 200

    def account(items):
        # (The browsers the right passwords made known are not the account's change.)
        return [
            {name: value for name, value in i.items() if name != "devices"}
            for i in items
            if i["pk"]["S"].startswith(("USER#", "EMAIL#"))
        ]

    assert account(snapshot(live_server)) == account(before)


def _refuse(*_: object) -> None:
    raise ServiceUnavailable("We could not send the email. Try again shortly.")


def test_no_store_call_starts_once_the_request_budget_is_spent(store, faults):
    with request_budget(0), pytest.raises(ServiceUnavailable):
        store.sessions.get("0" * 64)
    assert faults.attempts.total() == 0
