"""Two-factor sign-in over HTTP on DynamoDB Local: every code single-use under concurrent
requests, every limit in the table."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest

from tests.helpers import ANN, PASSWORD, Browser, sign_up_over_http

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test


def enrolled(live_server) -> tuple[pyotp.TOTP, list[str]]:
    browser = sign_up_over_http(live_server, ANN)
    url = live_server.url
    secret = browser.post(f"{url}/auth/2fa/totp/setup", json={"password": PASSWORD}).json()[
        "secret"
    ]
    totp = pyotp.TOTP(secret)
    enabled = browser.post(f"{url}/auth/2fa/totp/enable", json={"code": totp.now()})
    assert enabled.status_code == 200, enabled.text
    return totp, enabled.json()["recovery_codes"]


def pending_sessions(live_server, count: int) -> list[Browser]:
    browsers = []
    for _ in range(count):
        browser = Browser()
        login = browser.post(
            f"{live_server.url}/auth/login", json={"email": ANN, "password": PASSWORD}
        )
        assert login.json()["two_factor_required"] is True
        browsers.append(browser)
    return browsers


def race(live_server, code: str, browsers: list[Browser]) -> list[int]:
    def verify(browser: Browser) -> int:
        return browser.post(f"{live_server.url}/auth/2fa/verify", json={"code": code}).status_code

    with ThreadPoolExecutor(max_workers=len(browsers)) as pool:
        return list(pool.map(verify, browsers))


def test_one_totp_code_in_four_sign_ins_at_once_verifies_one(live_server):
    totp, _ = enrolled(live_server)
    browsers = pending_sessions(live_server, 4)
    statuses = race(live_server, totp.at(time.time() + 30), browsers)
    assert sorted(statuses) == [200, 400, 400, 400], statuses


def test_one_recovery_code_in_four_sign_ins_at_once_verifies_one(live_server):
    _, codes = enrolled(live_server)
    browsers = pending_sessions(live_server, 4)
    statuses = race(live_server, codes[0], browsers)
    assert sorted(statuses) == [200, 400, 400, 400], statuses
    (user,) = live_server.items("USER#")
    assert len(user["recovery_codes"]["SS"]) == 9


def test_eight_copies_of_one_right_code_verify_once_and_lock_nothing(live_server):
    """A double click, a client's retry: the copies of a right code that lose the race to the
    first are no guesses. They are refused, not counted, and the next right code works."""
    totp, codes = enrolled(live_server)  # this step is used: the next one is accepted now
    statuses = race(live_server, totp.at(time.time() + 30), pending_sessions(live_server, 8))
    assert sorted(statuses) == [200] + [400] * 7, statuses
    assert live_server.items("THROTTLE#2fa#") == []
    # A fresh right code (the app's next one is 30 seconds away: a recovery code) still works.
    assert race(live_server, codes[0], pending_sessions(live_server, 1)) == [200]
    # The same for a recovery code, and the next one.
    statuses = race(live_server, codes[1], pending_sessions(live_server, 8))
    assert sorted(statuses) == [200] + [400] * 7, statuses
    assert live_server.items("THROTTLE#2fa#") == []
    assert race(live_server, codes[2], pending_sessions(live_server, 1)) == [200]


def test_parallel_guesses_cannot_pass_the_lock(live_server):
    enrolled(live_server)
    browsers = pending_sessions(live_server, 12)
    statuses = race(live_server, "000000", browsers)
    # Each wrong code is counted before it is answered: at most 5 answers, the rest are 429.
    assert statuses.count(400) <= 5, statuses
    assert statuses.count(400) + statuses.count(429) == 12, statuses
    (counter,) = live_server.items("THROTTLE#2fa#")
    assert int(counter["count"]["N"]) >= 5
