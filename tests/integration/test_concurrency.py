"""Concurrency over HTTP: chalice local on DynamoDB Local, bounded in count and time."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import PASSWORD, Browser

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test


def test_32_parallel_signups_with_one_email_make_exactly_one_account(live_server):
    spellings = ["ann@example.com", "ANN@example.com", "Ann@Example.COM", " ann@EXAMPLE.com "]

    def sign_up(i: int) -> int:
        body = {"email": spellings[i % len(spellings)], "password": PASSWORD}
        return Browser().post(f"{live_server.url}/auth/signup", json=body).status_code

    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = sorted(pool.map(sign_up, range(32)))
    # 30 sign-ups from one client an hour, 3 for one address in 10 minutes (SIGNUP_IP_MAX and
    # the address's limit, each counted atomically): one account, two 409s, the rest 429.
    assert statuses == [201, 409, 409] + [429] * 29
    assert len(live_server.items("USER#")) == 1
    assert [i["pk"]["S"] for i in live_server.items("EMAIL#")] == ["EMAIL#ann@example.com"]
    assert len(live_server.items("SESSION#")) == 1


def test_16_parallel_logins_make_16_working_sessions(live_server):
    url = live_server.url
    Browser().post(f"{url}/auth/signup", json={"email": "ann@example.com", "password": PASSWORD})

    def log_in(_: int) -> str:
        browser = Browser()
        body = {"email": "ann@example.com", "password": PASSWORD}
        assert browser.post(f"{url}/auth/login", json=body).status_code == 200
        return browser.cookies["auth_session"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        tokens = list(pool.map(log_in, range(16)))
    assert len(set(tokens)) == 16
    for token in tokens:
        response = Browser().get(f"{url}/trainings", cookies={"auth_session": token})
        assert response.status_code == 200
    assert len(live_server.items("SESSION#")) == 17  # and the sign-up's own


def test_once_logout_has_answered_no_request_with_that_cookie_succeeds(live_server):
    url = live_server.url
    browser = Browser()
    browser.post(f"{url}/auth/signup", json={"email": "ann@example.com", "password": PASSWORD})
    token = browser.cookies["auth_session"]
    results: list[tuple[float, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def hammer() -> None:
        client = Browser()
        while not stop.is_set():
            started = time.monotonic()
            status = client.get(f"{url}/trainings", cookies={"auth_session": token}).status_code
            with lock:
                results.append((started, status))

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(0.3)
    assert Browser().post(f"{url}/auth/logout", cookies={"auth_session": token}).status_code == 204
    logged_out_at = time.monotonic()
    time.sleep(0.3)
    stop.set()
    for worker in workers:
        worker.join(timeout=30)

    after = [status for started, status in results if started > logged_out_at]
    before = [status for started, status in results if started <= logged_out_at]
    assert after, "no request was made after the logout"
    assert set(after) == {401}
    assert 200 in before
    assert set(before) <= {200, 401}
    assert live_server.items("SESSION#") == []  # no extension re-created it


def test_parallel_failed_logins_are_all_counted(live_server):
    url = live_server.url
    Browser().post(f"{url}/auth/signup", json={"email": "ann@example.com", "password": PASSWORD})

    def fail(i: int) -> int:
        body = {"email": "ann@example.com", "password": f"wrong password {i}"}
        return Browser().post(f"{url}/auth/login", json=body).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(fail, range(12)))
    verified_failures = statuses.count(401)
    assert verified_failures + statuses.count(429) == 12
    assert verified_failures >= 5
    counters = {
        i["pk"]["S"]: int(i["count"]["N"])
        for i in live_server.items("THROTTLE#")
        if i["pk"]["S"].startswith(("THROTTLE#email#", "THROTTLE#ip#"))
    }
    # Every verified failure was counted, on both keys: no update was lost.
    assert counters == {
        "THROTTLE#email#ann@example.com": verified_failures,
        "THROTTLE#ip#127.0.0.1": verified_failures,
    }
