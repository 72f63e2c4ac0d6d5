"""Sign-in by emailed code over HTTP on DynamoDB Local, reading the outbox: one code used once
under parallel requests, parallel guesses held to the limit, and two round trips."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import ANN, Browser, sign_up_over_http

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test


def ask(live_server, email: str = ANN) -> str:
    response = Browser().post(f"{live_server.url}/auth/login/code", json={"email": email})
    assert response.status_code == 202, response.text
    return live_server.outbox.code(email)


def race(live_server, email: str, codes: list[str]) -> list[int]:
    def verify(code: str) -> int:
        body = {"email": email, "code": code}
        return Browser().post(f"{live_server.url}/auth/login/code/verify", json=body).status_code

    with ThreadPoolExecutor(max_workers=len(codes)) as pool:
        return list(pool.map(verify, codes))


def test_one_code_in_six_parallel_sign_ups_makes_one_account_and_one_session(live_server):
    code = ask(live_server, "new@example.com")
    statuses = race(live_server, "new@example.com", [code] * 6)
    assert sorted(statuses) == [201, 400, 400, 400, 400, 400], statuses
    assert len(live_server.items("USER#")) == 1
    assert len(live_server.items("EMAIL#")) == 1
    assert len(live_server.items("SESSION#")) == 1
    (used,) = live_server.items("SECRET#login_code#")
    assert "used_at" in used


def test_one_code_in_six_parallel_sign_ins_signs_in_once(live_server):
    sign_up_over_http(live_server, ANN)
    before = len(live_server.items("SESSION#"))
    statuses = race(live_server, ANN, [ask(live_server)] * 6)
    assert sorted(statuses) == [200, 400, 400, 400, 400, 400], statuses
    assert len(live_server.items("SESSION#")) == before + 1


def test_eight_copies_of_one_right_code_sign_in_once_and_lock_nothing(live_server):
    """A double click, a client's retry: the copies that lose the race to the first are no
    guesses. They are refused, not counted, and the next code works at once."""
    sign_up_over_http(live_server, ANN)
    statuses = race(live_server, ANN, [ask(live_server)] * 8)
    assert sorted(statuses) == [200] + [400] * 7, statuses
    assert live_server.items("THROTTLE#login-code#") == []
    assert race(live_server, ANN, [ask(live_server)]) == [200]


def test_twelve_parallel_wrong_guesses_get_at_most_five_answers(live_server):
    code = ask(live_server)
    statuses = race(live_server, ANN, ["ZZZZZZZZ"] * 12)
    # Each wrong code is counted before it is answered: at most 5 answers, the rest are 429.
    assert statuses.count(400) <= 5, statuses
    assert statuses.count(400) + statuses.count(429) == 12, statuses
    (counter,) = live_server.items("THROTTLE#login-code#")
    # Those that read the count at the limit were refused without counting.
    assert 5 <= int(counter["count"]["N"]) <= 12
    assert race(live_server, ANN, [code]) == [429]  # until the window passes, the right one too


def test_a_code_sign_in_is_two_round_trips(live_server):
    """The figures the README quotes, like a password login's."""
    code = ask(live_server, "new@example.com")
    live_server.calls.clear()
    body = {"email": "new@example.com", "code": code}
    browser = Browser()
    assert browser.post(f"{live_server.url}/auth/login/code/verify", json=body).status_code == 201
    # The code, the address's claim and its count of wrong codes; then the account, the
    # session, the code used up and the count cleared, all or nothing.
    assert live_server.calls.operations == ["BatchGetItem", "TransactWriteItems"]
    code = ask(live_server, "new@example.com")
    live_server.calls.clear()
    body = {"email": "new@example.com", "code": code}
    assert browser.post(f"{live_server.url}/auth/login/code/verify", json=body).status_code == 200
    assert live_server.calls.operations == ["BatchGetItem", "TransactWriteItems"]
    # Asking: the two send counters, the address's claim, the code.
    live_server.calls.clear()
    ask(live_server, "new@example.com")
    assert live_server.calls.operations == ["UpdateItem", "UpdateItem", "GetItem", "PutItem"]
