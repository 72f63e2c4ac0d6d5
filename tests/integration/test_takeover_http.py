"""Pre-account takeover over HTTP, on DynamoDB Local, as an attacker would try it against `make
dev`: someone makes an account with Ann's address before she does, attaches a way in of
their own, and waits for her to prove the address. Whatever they attached must be gone once
she does (flows.mailbox), and must never sign them in to her account."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from chalicelib.errors import ServiceUnavailable
from chalicelib.store import CLIENT_CONFIG, open_store
from chalicelib.store.identities import IdentityRecord, identity_id
from tests.helpers import ANN, NEW_PASSWORD, PASSWORD, Browser, sign_up_over_http
from tests.integration.test_social_http import (
    JSON,
    callback_url,
    error_code,
    finish,
    session_of,
    social_sign_in,
)

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

MALLORY = "mallory@evil.example"


def reset(live_server, browser: Browser | None = None):
    """Ann, refused at sign-up (409 email_taken), does what anyone does: she resets."""
    browser = browser or Browser()
    url = live_server.url
    taken = browser.post(f"{url}/auth/signup", json={"email": ANN, "password": NEW_PASSWORD})
    assert taken.status_code == 409
    assert browser.post(f"{url}/auth/password-reset", json={"email": ANN}).status_code == 202
    token = parse_qs(urlsplit(live_server.outbox.link(ANN)).query)["token"][0]
    body = {"token": token, "new_password": NEW_PASSWORD}
    return browser.post(f"{url}/auth/password-reset/confirm", json=body)


def ann_id(live_server) -> str:
    (claim,) = live_server.items(f"EMAIL#{ANN}")
    return claim["user_id"]["S"]


def test_a_squatter_cannot_connect_a_provider_and_keeps_nothing_after_the_owners_reset(
    live_server,
):
    # 1. Mallory signs up with Ann's address and a password of her own: unverified.
    squatter = sign_up_over_http(live_server, ANN, verified=False)
    # 2. She re-authenticates and tries to connect a provider sign-in of her own.
    again = squatter.post(f"{live_server.url}/auth/reauthenticate", json={"password": PASSWORD})
    assert again.status_code == 200
    connect = squatter.get(
        f"{live_server.url}/auth/oauth/local?intent=link", headers=JSON, allow_redirects=False
    )
    assert connect.status_code == 403
    assert error_code(connect) == "email_unverified"
    # 3. Ann resets: the account is hers, verified, with her password.
    owner = reset(live_server)
    assert owner.status_code == 200, owner.text
    assert owner.json()["user"]["email_verified"] is True
    # 4. Mallory's provider sign-in gets an account of its own, never Ann's.
    browser, response = social_sign_in(live_server, MALLORY)
    assert response.status_code == 303
    assert session_of(live_server, browser)["user"]["email"] == MALLORY
    (identity,) = live_server.items("IDENTITY#")
    assert identity["user_id"]["S"] != ann_id(live_server)
    assert session_of(live_server, squatter).get("user") is None  # her session ended too


def test_an_untrusted_providers_account_loses_its_identity_when_the_owner_resets(
    live_server, oauth_providers
):
    """No password at all: Mallory signs in at a provider that is not trusted for email with
    Ann's address (reported verified, but not believed): an unverified account holding her
    identity. Ann's reset removes it; Mallory's next sign-in there is refused."""
    stub = oauth_providers.tokens
    stub.shape = lambda claims, header: (
        {**claims, "email": ANN, "sub": "mallory"},
        header,
        stub.key,
    )
    squatter, response = social_sign_in(live_server, ANN, provider="stub")
    assert response.status_code == 303
    assert session_of(live_server, squatter)["user"]["email_verified"] is False
    assert len(live_server.items("IDENTITY#")) == 1

    owner = reset(live_server)
    assert owner.status_code == 200, owner.text
    assert live_server.items("IDENTITY#") == []
    ann = Browser()
    login = ann.post(f"{live_server.url}/auth/login", json={"email": ANN, "password": NEW_PASSWORD})
    assert login.status_code == 200
    assert ann.get(f"{live_server.url}/auth/identities").json()["identities"] == []

    browser = Browser()
    again = finish(browser, callback_url(live_server, browser, ANN, provider="stub"), **JSON)
    assert again.status_code == 409
    assert error_code(again) == "account_exists"
    assert session_of(live_server, squatter).get("user") is None


def test_an_identity_linked_in_parallel_with_the_proof_never_survives_it(live_server):
    """Rounds of a code sign-in that first proves an address, raced by the squatter's link of
    an identity to that account, written straight into the table as a connection would write
    it while the account was unverified. Whichever lands first: the identity is removed by the
    proof, or the proof fails (503, nothing written) and its retry removes it, or the link
    finds the account verified and fails. Never a verified account holding it."""
    url = live_server.url
    store = open_store(
        boto3.client("dynamodb", config=CLIENT_CONFIG), live_server.table, lambda _: None
    )
    failed_proofs = 0
    for round_ in range(8):
        email = f"ann{round_}@example.com"
        squatter = sign_up_over_http(live_server, email, verified=False)
        user_id = session_of(live_server, squatter)["user"]["id"]
        assert Browser().post(f"{url}/auth/login/code", json={"email": email}).status_code == 202
        body = {"email": email, "code": live_server.outbox.code(email)}
        issuer = "https://evil.example"
        identity = IdentityRecord(
            identity_id(issuer, f"m{round_}"), user_id, "stub", issuer, f"m{round_}", email, 1, 1
        )
        item, account = store.identities.link(identity)
        # Set up before the proof: while the account is unverified.
        params = dict(account.params)
        params["ConditionExpression"] += " AND email_verified = :unverified"
        params["ExpressionAttributeValues"] = {
            **params["ExpressionAttributeValues"],
            ":unverified": {"BOOL": False},
        }
        link = [item, account._replace(params=params)]
        start = threading.Barrier(2)

        def prove(body=body, start=start) -> int:
            start.wait()
            return Browser().post(f"{url}/auth/login/code/verify", json=body).status_code

        def squat(link=link, start=start) -> bool:
            start.wait()
            try:
                store.table.commit(*link)
            except ServiceUnavailable:  # the account was verified first
                return False
            return True

        with ThreadPoolExecutor(max_workers=2) as pool:
            proved, linked = pool.submit(prove), pool.submit(squat)
            status = proved.result()
            linked.result()
        if status == 503:  # the link landed between the proof's read and its write
            failed_proofs += 1
            status = Browser().post(f"{url}/auth/login/code/verify", json=body).status_code
        assert status == 200
        (account_item,) = live_server.items(f"USER#{user_id}")
        assert account_item["email_verified"] == {"BOOL": True}
        assert "identities" not in account_item
        assert [i for i in live_server.items("IDENTITY#") if i["user_id"]["S"] == user_id] == []


def test_a_squatters_logins_racing_the_owners_first_proof_keep_no_session(live_server):
    """Mallory signs in with her password again and again while Ann signs in by code, the
    first proof of the address: a login that checked the password before the proof and wrote
    its session after it is refused (flows.context's guard), one that wrote before it ends
    with the proof, and the next is refused. None of her sessions lives on. (Over HTTP the
    interleaving is left to chance; tests/test_interleavings.py forces it on moto.)"""
    url = live_server.url
    sign_up_over_http(live_server, ANN, verified=False)
    assert Browser().post(f"{url}/auth/login/code", json={"email": ANN}).status_code == 202
    body = {"email": ANN, "code": live_server.outbox.code(ANN)}
    signed_in_once, proven = threading.Event(), threading.Event()
    credentials = {"email": ANN, "password": PASSWORD}

    def squat() -> list[Browser]:
        signed_in = []
        while True:
            after = proven.is_set()  # this login starts after Ann's answer: it must fail
            browser = Browser()
            response = browser.post(f"{url}/auth/login", json=credentials)
            assert response.status_code in (200, 401), response.text
            if response.status_code == 200:
                assert not after
                signed_in.append(browser)
                signed_in_once.set()
            if after:
                return signed_in

    with ThreadPoolExecutor(max_workers=2) as pool:
        logins = pool.submit(squat)
        assert signed_in_once.wait(timeout=60)  # her logins are under way
        proof = Browser().post(f"{url}/auth/login/code/verify", json=body)
        proven.set()
        browsers = logins.result()
    assert proof.status_code == 200, proof.text
    assert browsers
    for browser in browsers:
        assert session_of(live_server, browser).get("user") is None
    (account,) = live_server.items(f"EMAIL#{ANN}")
    assert "password_hash" not in account
