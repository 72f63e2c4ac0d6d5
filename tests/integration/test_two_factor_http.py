"""Two-factor sign-in over HTTP on DynamoDB Local: every code single-use under concurrent
requests, every limit in the table."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pyotp

from tests.helpers import Browser

PASSWORD = "correct horse battery"
ANN = "ann@example.com"


def enrolled(live_server) -> tuple[pyotp.TOTP, list[str]]:
    browser = Browser()
    url = live_server.url
    browser.post(f"{url}/auth/signup", json={"email": ANN, "password": PASSWORD})
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


def test_parallel_guesses_cannot_pass_the_lock(live_server):
    enrolled(live_server)
    browsers = pending_sessions(live_server, 12)
    statuses = race(live_server, "000000", browsers)
    # Each attempt is counted before it is checked: at most 5 are checked, the rest are 429.
    assert statuses.count(400) <= 5, statuses
    assert statuses.count(400) + statuses.count(429) == 12, statuses
    (counter,) = live_server.items("THROTTLE#2fa#")
    assert int(counter["count"]["N"]) >= 5
