"""The email flows over HTTP on DynamoDB Local, reading mail from the outbox as a developer
running `make dev` would: each message an .eml file, one console line each, every code and
link single-use under concurrent requests."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy

import argon2
import pytest

from tests.helpers import ANN, BOB, NEW_PASSWORD, PASSWORD, Browser, sign_up_over_http

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test


def signed_up(live_server, email=ANN) -> Browser:
    """An account whose address is not verified yet: these tests verify it."""
    return sign_up_over_http(live_server, email, verified=False)


def test_the_outbox_holds_sortable_eml_files_and_the_console_says_what_is_in_them(
    live_server, capfd
):
    browser = signed_up(live_server)
    browser.post(f"{live_server.url}/auth/email/verify/resend")
    files = sorted(live_server.outbox.folder.glob("*.eml"))
    assert len(files) == 2
    assert [f.name for f in files] == sorted(f.name for f in files)  # names sort by time
    first = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert first["To"] == ANN
    assert first["Subject"] == "Your verification code"
    assert first.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in first.iter_parts()] == ["text/plain", "text/html"]
    code = live_server.outbox.code(ANN)
    console = capfd.readouterr().err
    assert f"[outbox] to {ANN}: Your verification code | code {code}" in console


def test_verify_over_http(live_server):
    browser = signed_up(live_server)
    code = live_server.outbox.code(ANN)
    old = browser.cookies["auth_session"]
    response = browser.post(f"{live_server.url}/auth/email/verify", json={"code": code})
    assert response.status_code == 200, response.text
    assert response.json()["user"]["email_verified"] is True
    assert browser.cookies["auth_session"] != old
    assert browser.get(f"{live_server.url}/auth/session").json()["user"]["email_verified"]
    (used,) = live_server.items("SECRET#")
    assert "used_at" in used  # a digest marked used, until its TTL
    (claim,) = live_server.items("EMAIL#")
    assert claim["email_verified"] == {"BOOL": True}


def test_one_code_sent_eight_times_at_once_verifies_once(live_server):
    browser = signed_up(live_server)
    code = live_server.outbox.code(ANN)
    cookie = browser.cookies["auth_session"]

    def verify(_: int) -> int:
        client = Browser()
        client.cookies.set("auth_session", cookie)
        return client.post(f"{live_server.url}/auth/email/verify", json={"code": code}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(verify, range(8)))
    # One wins; the others find the code used (400, and not counted: no guess) or their
    # session already rotated away (401). Never two rotations: exactly one new session exists,
    # and nothing was counted against the user.
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400, 401}, statuses
    assert len(live_server.items("SESSION#")) == 1
    assert live_server.items("THROTTLE#code#") == []


def reset_link(live_server, browser=None) -> str:
    response = (browser or Browser()).post(
        f"{live_server.url}/auth/password-reset", json={"email": ANN}
    )
    assert response.status_code == 202
    assert response.json() == {"status": "accepted"}
    return live_server.outbox.link(ANN)


def test_a_reset_link_used_eight_times_at_once_resets_once(live_server):
    signed_up(live_server)
    link = reset_link(live_server)
    assert link.startswith(f"{live_server.url}/reset-password?token=")
    token = link.split("token=", 1)[1]

    def confirm(i: int) -> int:
        body = {"token": token, "new_password": f"{NEW_PASSWORD} {i}"}
        return (
            Browser().post(f"{live_server.url}/auth/password-reset/confirm", json=body).status_code
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(confirm, range(8)))
    # One wins. A loser is told the link is used (400), or, when its write kept meeting the
    # others' on a busy DynamoDB Local until its retries ran out, to try again (503), which
    # then says 400: never a second reset.
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400, 503}, statuses
    retried = Browser().post(
        f"{live_server.url}/auth/password-reset/confirm",
        json={"token": token, "new_password": f"{NEW_PASSWORD} again"},
    )
    assert retried.status_code == 400, retried.text
    assert len(live_server.items("SESSION#")) == 1
    # Exactly one of the eight passwords is the account's: checked against the stored hash,
    # not by logging in with each (five wrong ones would lock the address before the winner).
    (claim,) = live_server.items(f"EMAIL#{ANN}")
    stored = argon2.PasswordHasher()
    winners = [
        i for i in range(8)
        if _verifies(stored, claim["password_hash"]["S"], f"{NEW_PASSWORD} {i}")
    ]  # fmt: skip
    assert len(winners) == 1
    body = {"email": ANN, "password": f"{NEW_PASSWORD} {winners[0]}"}
    assert Browser().post(f"{live_server.url}/auth/login", json=body).status_code == 200


def _verifies(hasher: argon2.PasswordHasher, encoded: str, password: str) -> bool:
    try:
        return hasher.verify(encoded, password)
    except argon2.exceptions.VerifyMismatchError:
        return False


def test_an_email_change_racing_a_sign_up_has_exactly_one_winner(live_server):
    ann = signed_up(live_server)
    response = ann.post(
        f"{live_server.url}/auth/email", json={"new_email": BOB, "password": PASSWORD}
    )
    assert response.status_code == 202, response.text
    code = live_server.outbox.code(BOB)

    def confirm() -> int:
        return ann.post(f"{live_server.url}/auth/email/confirm", json={"code": code}).status_code

    def sign_up() -> int:
        body = {"email": BOB, "password": PASSWORD}
        return Browser().post(f"{live_server.url}/auth/signup", json=body).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        confirmed, registered = pool.submit(confirm), pool.submit(sign_up)
        outcome = (confirmed.result(), registered.result())
    assert outcome in {(200, 409), (409, 201)}, outcome
    claims = live_server.items(f"EMAIL#{BOB}")
    assert len(claims) == 1
    ann_id = ann.get(f"{live_server.url}/auth/session").json()["user"]["id"]
    owner = claims[0]["user_id"]["S"]
    assert (owner == ann_id) == (outcome == (200, 409))
    # Whoever lost kept what they had: Ann her old address, or nobody a half-made account.
    assert len(live_server.items("EMAIL#")) == 2 if outcome == (409, 201) else 1


def test_reset_links_point_at_the_public_origin_not_the_host_header(live_server):
    signed_up(live_server)
    browser = Browser()
    browser.headers["Host"] = "evil.example"
    link = reset_link(live_server, browser)
    assert link.startswith(live_server.settings.public_origin + "/reset-password?token=")
    assert "evil.example" not in json.dumps(live_server.outbox.last(ANN).html)
    assert re.fullmatch(r".*token=[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}", link)
