"""Passkeys over HTTP on DynamoDB Local: a challenge answers once, however many requests race
with it, and the sign count moves once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import PASSWORD, Browser, sign_up_over_http
from tests.softkey import SoftKey

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test


def test_one_assertion_sent_six_times_at_once_signs_in_once(live_server):
    url = live_server.url
    key = SoftKey(origin=url, rp_id="localhost")
    ann = sign_up_over_http(live_server)
    options = ann.post(f"{url}/auth/passkeys/register/options", json={"password": PASSWORD})
    assert options.status_code == 200, options.text
    registered = ann.post(
        f"{url}/auth/passkeys/register",
        json={"credential": key.create(options.json()), "name": "Laptop"},
    )
    assert registered.status_code == 201, registered.text

    visitor = Browser()
    challenge = visitor.post(f"{url}/auth/passkeys/login/options")
    assert challenge.status_code == 200
    attempt = visitor.cookies["passkey_attempt"]
    assertion = key.get(challenge.json())

    def log_in(_: int) -> int:
        client = Browser()
        client.cookies.set("passkey_attempt", attempt)
        return client.post(f"{url}/auth/passkeys/login", json={"credential": assertion}).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(log_in, range(6)))
    assert sorted(statuses) == [200] + [401] * 5, statuses
    (passkey,) = live_server.items("PASSKEY#")
    assert passkey["sign_count"] == {"N": "1"}
    assert live_server.items("CHALLENGE#") == []
